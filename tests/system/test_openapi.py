"""The OpenAPI schema (/api/schema) covers every endpoint of the spec; /api/docs works offline."""

import re
from collections import Counter
from pathlib import Path

import pytest
import requests
import yaml
from django.core.management import call_command

# The spec lies beside the checkout (../shared/spec), as on developer machines and CI.
SPEC_README = Path(__file__).resolve().parents[3] / "shared" / "spec" / "README.md"
# The endpoint table of spec/README.md, kept here so the test does not depend on the spec's location.
SPEC_ENDPOINTS = {
    ("get", "/api/models"), ("get", "/api/models/{hash}"), ("get", "/api/models/{hash}/content"),
    ("post", "/api/models/{hash}"), ("post", "/api/models"), ("delete", "/api/models/{hash}"),
    ("delete", "/api/models"), ("post", "/api/models/add-from-civitai"), ("get", "/api/models/add-from-civitai/{hash}"),
    ("get", "/api/tasks/queue"), ("post", "/api/tasks"), ("delete", "/api/tasks"), ("put", "/api/tasks/promote"),
    ("get", "/api/tasks"), ("get", "/api/tasks/{id}"),
    ("get", "/api/images"), ("get", "/api/images/{hash}"), ("get", "/api/images/{hash}/content"),
    ("post", "/api/images/{hash}"), ("post", "/api/images"), ("post", "/api/images/upload"),
    ("delete", "/api/images/{hash}"), ("delete", "/api/images"),
    ("get", "/api/version"), ("get", "/api/config"), ("get", "/api/tags"),
}
# Endpoints of spec/extensions.md (D31-D42) that this build serves
EXTENSION_ENDPOINTS = {("post", "/api/tasks/parse-parameters"), ("get", "/api/images/{hash}/parameters"),
                       ("post", "/api/images/{hash}/upscale"), ("get", "/api/health"),
                       ("get", "/api/images/{hash}/thumbnail"),  # issue 15: the web UI's gallery
                       # issue 22 item 6: JSON:API's update form (docs/library.md)
                       ("patch", "/api/models/{hash}"), ("patch", "/api/images/{hash}"), ("patch", "/api/tasks/{id}"),
                       ("get", "/api/tasks/{id}/preview"),  # issue 26: live previews
                       # issue 24: model folders scanned in place, Civitai by hash
                       ("post", "/api/models/scan"), ("get", "/api/models/scan"), ("get", "/api/models/scan/events"),
                       ("post", "/api/models/{hash}/civitai-sync"), ("post", "/api/models/civitai-sync")}
LISTS = {"/api/models", "/api/images", "/api/tasks", "/api/tags"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    """Generated with drf-spectacular's own validation; any warning or error fails."""
    target = tmp_path_factory.mktemp("openapi") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return yaml.safe_load(target.read_text())


def operations(schema):
    return {(method, path): op for path, item in schema["paths"].items() for method, op in item.items()}


def test_spec_table_is_the_one_tested():
    if not SPEC_README.exists():
        pytest.skip("spec not available")
    rows = re.findall(r"^\| (GET|POST|PUT|DELETE) \| `([^`]+)` \|", SPEC_README.read_text(), re.M)
    assert {(method.lower(), path) for method, path in rows} == SPEC_ENDPOINTS


def test_every_spec_endpoint_is_documented_once(schema):
    ops = operations(schema)
    assert set(ops) == SPEC_ENDPOINTS | EXTENSION_ENDPOINTS | {("get", "/api")}  # plus the index (test_api_index.py)
    ids = Counter(op["operationId"] for op in ops.values())
    assert all(count == 1 for count in ids.values()), ids
    for key, op in ops.items():
        assert op.get("summary"), key
        assert any(code.startswith("2") for code in op["responses"]), key


def test_path_parameters_match_templates(schema):
    for (method, path), op in operations(schema).items():
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)


def test_errors_are_jsonapi_error_documents(schema):
    error_ref = "#/components/schemas/ErrorDocument"
    for key, op in operations(schema).items():
        if key in EXTENSION_ENDPOINTS:
            continue
        assert "401" in op["responses"], key
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": error_ref}, (key, code)
    assert "errors" in schema["components"]["schemas"]["ErrorDocument"]["properties"]


def test_request_bodies(schema):
    ops = operations(schema)
    for key in SPEC_ENDPOINTS:
        if key[0] in ("post", "put", "delete") and key != ("delete", "/api/models/{hash}") and key != ("delete", "/api/images/{hash}"):
            assert ops[key].get("requestBody", {}).get("content"), key
    upload = ops[("post", "/api/images/upload")]["requestBody"]["content"]
    assert {"multipart/form-data", "image/png", "image/jpeg", "image/webp"} <= set(upload)
    submission = schema["components"]["schemas"]["TaskSubmission"]
    assert submission["required"] == ["checkpoint_hash", "prompt"]


def test_request_bodies_say_what_the_server_refuses(schema):
    """Issue 23 item 9: unknown fields, empty uploads and control characters, refused by the server, are
    outside the schema too (tests/system/test_openapi_fuzz.py checks the rest against a live server)."""
    components = schema["components"]["schemas"]
    assert components["UpscaleRequest"]["additionalProperties"] is False
    assert components["InfotextBody"]["additionalProperties"] is False
    upload = operations(schema)[("post", "/api/images/upload")]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["minLength"] == 1
    assert all(upload[media]["schema"]["minLength"] == 1 for media in ("image/png", "image/jpeg", "image/webp"))
    name = re.compile(components["ModelUpdate"]["properties"]["name"]["pattern"])
    assert name.match("a lighthouse\n") and not name.match(" \n") and not name.match("a\x08")
    tag = re.compile(components["ModelUpdate"]["properties"]["tags"]["items"]["pattern"])
    assert tag.match("sharp") and not tag.match("sh\narp") and not tag.match(" ")
    assert not re.match(components["ModelUpdate"]["properties"]["description"]["pattern"], "a\x89")


def test_list_query_parameters(schema):
    ops = operations(schema)
    for path in LISTS:
        params = {p["name"]: p for p in ops[("get", path)]["parameters"]}
        assert {"sort", "page"} <= set(params), path
        assert params["page"]["style"] == "deepObject" and params["page"]["schema"]["additionalProperties"] is False
        assert set(params["page"]["schema"]["properties"]) == {"number", "size", "offset", "limit", "count"}
        # the styles do not mix (query-protocol.md §4)
        assert {"required": ["number", "offset"]} in params["page"]["schema"]["not"]["anyOf"]
        assert "filter[created_at][gte]" in params  # one parameter per filter: test_openapi_contract.py
        entity = path.rsplit("/", 1)[1][:-1]
        assert f"fields[{entity}]" in params
    assert "include" in {p["name"] for p in ops[("get", "/api/models/{hash}")]["parameters"]}


def test_documents_follow_resource_declarations(schema):
    components = schema["components"]["schemas"]
    model = components["ModelResource"]["properties"]
    assert model["type"]["enum"] == ["model"]
    assert model["attributes"]["properties"]["model_type"]["enum"] == [
        "checkpoint", "lora", "controlnet", "vae", "embedding", "upscaler"]
    assert set(model["relationships"]["properties"]) == {"tags", "cover_image"}
    collection = components["ModelCollection"]["properties"]
    assert collection["data"]["items"] == {"$ref": "#/components/schemas/ModelResource"}
    assert {"meta", "links", "included"} <= set(collection)


def test_sse_endpoints_answer_event_streams(schema):
    ops = operations(schema)
    for key in [("get", "/api/tasks/queue"), ("get", "/api/models/add-from-civitai/{hash}")]:
        assert "text/event-stream" in ops[key]["responses"]["200"]["content"], key


def test_schema_endpoint_serves_it(api):
    response = api.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/tasks/queue" in response.content.decode()


def local_assets(html):
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def test_docs_page_uses_local_assets(api):
    response = api.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html.lower()
    assets = local_assets(html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


def test_docs_assets_are_served_by_the_asgi_server(live_url, settings):
    settings.DEBUG = False
    page = requests.get(f"{live_url}/api/docs", timeout=30)
    assert page.status_code == 200
    assets = local_assets(page.text)
    assert assets
    for asset in assets:
        response = requests.get(f"{live_url}{asset}", timeout=30)
        assert response.status_code == 200, asset
        assert response.content
    bundle = next(a for a in assets if a.endswith(".js"))
    assert "javascript" in requests.get(f"{live_url}{bundle}", timeout=30).headers["Content-Type"]


def test_streams_document_last_event_id_and_the_import_streams_204(schema):
    """Issue 22 item 11: events carry ids; the import stream answers 204 to the final event's id, the queue never."""
    ops = operations(schema)
    for key in (("get", "/api/models/add-from-civitai/{hash}"), ("get", "/api/tasks/queue")):
        assert "Last-Event-ID" in [p["name"] for p in ops[key]["parameters"] if p["in"] == "header"], key
    assert "204" in ops["get", "/api/models/add-from-civitai/{hash}"]["responses"]
    assert "204" not in ops["get", "/api/tasks/queue"]["responses"]
