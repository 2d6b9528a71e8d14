"""The OpenAPI document is a contract third-party tools can use: it validates, its examples and descriptions
are written for users and Swagger UI's defaults send valid requests; clients generated from it:
test_openapi_generated_clients.py."""

import json

import pytest
import requests
from openapi_spec_validator import validate

from tests.support.factories import make_image, make_model

LISTS = ("models_list", "images_list", "tasks_list", "tags_list")


@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    return {op["operationId"]: op for item in schema["paths"].values() for op in item.values()}


def test_schema_is_valid_openapi(schema):
    validate(json.loads(json.dumps(schema)))  # raises on any violation, e.g. an empty `oneOf`


def test_list_responses_are_collection_documents(schema):
    for operation_id in LISTS:
        ok = operations(schema)[operation_id]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].endswith("Collection"), (operation_id, ok)


def test_descriptions_are_written_for_users(schema):
    """drf-spectacular falls back to view docstrings, which are written for maintainers."""
    from core.jsonapi.views import ResourceReadMixin
    from models_app.api.actions import ModelActionsMixin

    internal = {ResourceReadMixin.__doc__.strip(), ModelActionsMixin.__doc__.strip()}
    for operation_id, op in operations(schema).items():
        description = op.get("description", "")
        assert description not in internal, operation_id
        assert ".py" not in description and "ViewSet" not in description, (operation_id, description)


def test_error_examples_show_their_own_status(schema):
    """Every error document response has an example with its own status (GET /api/health's 503 is a health
    document, and the health check needs no token, so it has no 401)."""
    for operation_id, op in operations(schema).items():
        for status, response in op["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            if status.startswith(("4", "5")) and content.get("schema", {}).get("$ref", "").endswith("/ErrorDocument"):
                example = content["example"]
                assert example["errors"][0]["status"] == status, (operation_id, status, example)
        if operation_id != "health":
            assert op["responses"]["401"]["content"]["application/json"]["example"]["errors"][0]["code"] == "unauthorized"


def test_filters_are_declared_one_parameter_each(schema):
    """Item 13 of issue 22: `filter[ATTR]` and `filter[ATTR][OP]` for every filterable attribute and operator of the
    resource's declaration, so that generators give each an argument (no `filter` object: openapi-python-client sent
    its keys bare, TypeScript generators typed it as a flat map). Swagger UI's "Try it out" fills no filter in."""
    from core.jsonapi.resource import resource_for

    for operation_id in LISTS:
        params = {p["name"]: p for p in operations(schema)[operation_id]["parameters"]}
        assert "filter" not in params, operation_id
        resource = resource_for(operation_id.removesuffix("s_list"))
        for name, attribute in {**resource.attributes, **resource.filter_only}.items():
            if not attribute.filterable:
                continue
            if "eq" in attribute.type.operators:
                assert params[f"filter[{name}]"]["in"] == "query"
            else:  # the images' prompt: a word search only (docs/query-engine.md, "Prompt search")
                assert f"filter[{name}]" not in params, (operation_id, name)
            for op in attribute.type.operators - {"eq"}:
                assert f"filter[{name}][{op}]" in params, (operation_id, name, op)
        assert not [name for name, p in params.items() if name.startswith("filter[")
                    and ("example" in p or "default" in p["schema"] or p.get("style") == "deepObject")], operation_id
    models = {p["name"]: p for p in operations(schema)["models_list"]["parameters"]}
    assert models["filter[size][gte]"]["schema"]["type"] == "integer"
    assert models["filter[created_at][lt]"]["schema"]["format"] == "date-time"
    assert models["filter[model_type]"]["schema"]["enum"][0] == "checkpoint"
    assert {"filter[tags][any]", "filter[tags][all]", "filter[tags][none]"} <= set(models)
    images = {p["name"]: p for p in operations(schema)["images_list"]["parameters"]}
    assert "word" in images["filter[prompt][contains]"]["description"] and "filter[prompt]" not in images


def test_request_bodies_are_required(schema):
    """Every write answers 400 to a missing body, so a client must not think it optional."""
    bodies = {operation_id: op["requestBody"] for operation_id, op in operations(schema).items() if "requestBody" in op}
    assert {"models_update", "images_upload", "tasks_create", "tasks_promote"} <= set(bodies)
    assert all(body.get("required") is True for body in bodies.values()), bodies


def test_empty_body_is_refused_as_the_schema_says(api, db):
    for method, path in (("post", "/api/models/" + "a" * 64), ("put", "/api/tasks/promote"), ("post", "/api/tasks")):
        response = getattr(api, method)(path, b"", content_type="application/json")
        assert response.status_code == 400, (method, path)


def test_schema_endpoint_answers_json_when_asked(api):
    for response in (api.get("/api/schema?format=json"), api.get("/api/schema", HTTP_ACCEPT="application/json")):
        assert response.status_code == 200
        assert "json" in response["Content-Type"]
        assert json.loads(response.content)["openapi"].startswith("3.")
    assert api.get("/api/schema?format=yaml").content.startswith(b"openapi:")
    assert api.get("/api/schema").content.startswith(b"openapi:")  # YAML stays the default


def event_data_validator(schema, operation_id):
    """How hey-api's generated SSE client checks each event: the `text/event-stream` schema describes the JSON that
    one event's `data` holds (its responseValidator runs on `JSON.parse(data)`)."""
    from openapi_schema_validator import OAS31Validator

    content = operations(schema)[operation_id]["responses"]["200"]["content"]
    return OAS31Validator({"allOf": [content["text/event-stream"]["schema"]], "components": schema["components"]})


def stream_data(url, count=None, timeout=30):
    """The parsed `data` of the stream's events: `count` of them, or all until the server closes it."""
    found = []
    with requests.get(url, stream=True, timeout=timeout) as response:
        assert response.status_code == 200, response.content
        for line in response.iter_lines():
            if line.startswith(b"data:"):
                found.append(json.loads(line[5:]))
                if len(found) == count:
                    break
    return found


def test_sse_schemas_describe_each_event_payload(live_url, civitai, schema):
    """Item 14 of issue 22: each stream's schema is its event payload (queue snapshot, import event), so a generated
    SSE client accepts the events the server sends."""
    from tests.support.civitai import SHA, URL, wait_final

    (snapshot,) = stream_data(f"{live_url}/api/tasks/queue", count=1)
    event_data_validator(schema, "tasks_queue").validate(snapshot)
    assert requests.post(f"{live_url}{URL}", json={"model_id": 10391}, timeout=10).status_code == 202
    wait_final(SHA)
    (final,) = stream_data(f"{live_url}{URL}/{SHA}")
    assert final["status"] == "completed"
    event_data_validator(schema, "models_import_progress").validate(final)
    for operation_id in ("tasks_queue", "models_import_progress"):
        validator = event_data_validator(schema, operation_id)
        assert not validator.is_valid({"data": "{}"}), operation_id  # not the raw frame


def request_schemas(schema):
    """Every schema object reachable from a request body, with its JSON path."""
    components = schema["components"]["schemas"]
    found, seen = [], set()

    def walk(node, where):
        if isinstance(node, dict):
            target = node.get("$ref", "").removeprefix("#/components/schemas/")
            if target and target not in seen:
                seen.add(target)
                walk(components[target], target)
            found.append((where, node))
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    for operation_id, op in operations(schema).items():
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            walk(content["schema"], f"{operation_id} {media}")
    return found


def test_defaulted_request_fields_are_optional_in_generated_types(schema):
    """Item 15 of issue 22: openapi-typescript (default mode, `defaultNonNullable`) types every property that has a
    `default` as required, so no request schema carries the keyword; the default is in the description."""
    with_default = [where for where, node in request_schemas(schema)
                    if any(isinstance(value, dict) and "default" in value for value in node.get("properties", {}).values())]
    assert not with_default, with_default
    submission = schema["components"]["schemas"]["TaskSubmission"]
    assert submission["required"] == ["checkpoint_hash", "prompt"]
    assert "Default: `DPM++ 2M Karras`" in submission["properties"]["sampler"]["description"]
    assert "Default: `512`" in submission["properties"]["width"]["description"]


UPDATE_BODIES = [
    {"rating": 4.5, "is_favorite": True, "note": "line one\nline two"}, {"tag_sharp": True, "tag_blurry": False},
    {"nested": {"list": [1, None, "ok", {"k": "v"}]}}, {"a" * 64: 1}, {"rating": None}, {"name": "renamed"},
    {"bad-key": 1}, {"a" * 65: 1}, {"key\n": 1}, {"size": 5}, {"metadata": {}}, {"tag_": True},
    {"tag_sharp": "yes"}, {"tag_a\x07b": True}, {"note": "a\x07"}, {"nested": {"list": ["ok", "b\x01"]}},
    {"nested": {"k\x02": 1}},
]


def test_update_bodies_say_which_keys_the_server_takes(api, schema):
    """Issue 23 item 9: the D3 update schemas (OpenAPI 3.1 `propertyNames`, `patternProperties`) allow a body exactly
    when the server takes it: metadata key names, `tag_<name>` flags, read-only keys, control characters."""
    from openapi_schema_validator import OAS31Validator

    assert schema["openapi"] == "3.1.0"
    model_hash, image_hash = make_model().hash, make_image().hash
    for name, path in (("ModelUpdate", f"/api/models/{model_hash}"), ("ImageUpdate", f"/api/images/{image_hash}")):
        validator = OAS31Validator({"allOf": [{"$ref": f"#/components/schemas/{name}"}],
                                    "components": schema["components"]})
        for body in UPDATE_BODIES:
            if name == "ImageUpdate" and "name" in body:
                continue  # images have no name: a metadata key there
            status = api.post_json(path, body).status_code
            assert validator.is_valid(body) == (status == 200), (name, body, status)
