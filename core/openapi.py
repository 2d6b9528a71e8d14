"""OpenAPI building blocks for the per-app schema modules (`<app>/api/schema.py`) and the hooks
that assemble them into the schema served at /api/schema (drf-spectacular).

Shapes are plain JSON Schema dicts registered as named components (`component`), so they read
like the spec. JSON:API documents are derived from the Resource declarations, never repeated.
Views drf-spectacular cannot see (plain Django views: the SSE streams) are added with `add_path`.
A path parameter may carry `extensions={PUBLIC_NAME: "hash"}` to be published under that name
instead of the URL conf's `{id}`.
"""

import json
import re

from django.utils.module_loading import autodiscover_modules
from drf_spectacular.drainage import isolate_view_method
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from core.errors import TITLES
from core.jsonapi.filters import FILTER_FORMS, reachable_types
from core.jsonapi.filters import document_parameters as jsonapi_document_parameters
from core.jsonapi.resource import all_type_names, resource_for
from core.jsonapi.types import Boolean, Enum, Integer, JSONObject, Number, Timestamp
from core.metadata import METADATA_KEY_RE
from core.tags import TAG_NAME_MAX
from core.text import FREE_TEXT_PATTERN, NON_BLANK_LABEL_PATTERN
from core.updates import TAG_KEY_PREFIX

PUBLIC_NAME = "x-public-name"
_components = {}
_paths = {}
_request_bodies = {}  # operationId -> {media type: schema}; drf-spectacular drops DELETE bodies
_descriptions = {}  # operationId -> the description written for users (view docstrings are not)


def component(name, schema):
    """Register a named schema component; returns a reference to it."""
    _components[name] = schema
    return ref(name)


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def add_path(path, method, operation):
    """Document an operation served by a plain Django view (outside DRF)."""
    _paths.setdefault(path, {})[method.lower()] = operation


# --- errors (D13) ---------------------------------------------------------------------------

ERROR_DOCUMENT = component("ErrorDocument", {
    "type": "object",
    "description": "JSON:API error document (D13).",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "minItems": 1, "items": {
        "type": "object",
        "required": ["status", "code", "title", "detail"],
        "properties": {
            "status": {"type": "string", "example": "400"},
            "code": {"type": "string", "example": "invalid_request"},
            "title": {"type": "string", "example": "Invalid Request"},
            "detail": {"type": "string"},
            "source": {"type": "object", "properties": {
                "parameter": {"type": "string", "description": "Query or path parameter at fault."},
                "pointer": {"type": "string", "description": "JSON Pointer into the body, e.g. /tags/0."},
            }},
        },
    }}},
})


# --- request and result shapes shared by models and images (D3, D11) ------------------------

TAG_NAME = {"type": "string", "minLength": 1, "maxLength": TAG_NAME_MAX, "pattern": NON_BLANK_LABEL_PATTERN,
            "description": "Not blank, no control characters"}

METADATA_VALUE = component("MetadataValue", {
    "description": "Any JSON value whose texts (object keys included) hold no control character but tab and line "
                   "breaks (docs/input.md).",
    "anyOf": [
        {"type": ["null", "boolean", "number"]},
        {"type": "string", "pattern": FREE_TEXT_PATTERN},
        {"type": "array", "items": ref("MetadataValue")},
        {"type": "object", "propertyNames": {"pattern": FREE_TEXT_PATTERN},
         "additionalProperties": ref("MetadataValue")},
    ],
})


NOT_A_DOCUMENT = {"not": {"required": ["data"]}}  # a D3 body: `data` is refused (a resource document goes to PATCH)


def update_request(name, target, properties, *, description, example):
    """The D3 update object of `target` (core.updates.UpdateTarget): the declared `properties` (writable attributes
    and `tags`), `tag_<name>: true|false` flags, and metadata keys with their values. Each key name as
    `validate_update` takes it (`propertyNames`, OpenAPI 3.1): a property, `tag_` and a tag name, or a metadata key
    that is not read-only. Python's `$` also matches before a final line feed, so no key may hold one."""
    assert set(properties) <= set(target.writable) | {"tags"}, properties
    tag_key = {"pattern": "^" + re.escape(TAG_KEY_PREFIX) + NON_BLANK_LABEL_PATTERN[1:],
               "maxLength": len(TAG_KEY_PREFIX) + TAG_NAME_MAX}
    metadata_key = {"pattern": METADATA_KEY_RE.pattern, "not": {"anyOf": [
        {"pattern": "^" + re.escape(TAG_KEY_PREFIX)}, {"enum": sorted(target.read_only)}]}}
    return component(name, {
        "type": "object", "description": description, "properties": properties,
        "propertyNames": {"anyOf": [{"enum": list(properties)}, tag_key, metadata_key], "not": {"pattern": "\n"}},
        "patternProperties": {"^" + re.escape(TAG_KEY_PREFIX): {"type": "boolean", "description": "Add (true) or "
                                                                 "remove (false) the tag named after the prefix"}},
        "additionalProperties": METADATA_VALUE,
        **NOT_A_DOCUMENT,
        "example": example,
    })


UPDATE_RESULT = component("UpdateResult", {
    "type": "object", "required": ["success", "updated_fields"],
    "properties": {"success": {"type": "boolean"}, "updated_fields": {"type": "array", "items": {"type": "string"}}},
})
BATCH_UPDATE_RESULT = component("BatchUpdateResult", {
    "type": "object", "required": ["success", "failed"],
    "properties": {
        "success": {"type": "array", "items": {"type": "string"}, "description": "Updated hashes"},
        "failed": {"type": "array", "items": {"type": "object", "properties": {
            "hash": {"type": "string"}, "error": {"type": "string", "example": "Image not found"}}}},
    },
})
DELETE_RESULT = component("DeleteResult", {
    "type": "object", "required": ["success", "message"],
    "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}},
})
def batch_delete_request(type_name):
    """The D11 batch delete body of one entity type: a list of hashes, or JSON:API resource identifiers."""
    name = type_name.capitalize()
    envelope = {"meta": {"description": "Tolerated, ignored"}, "jsonapi": {"description": "Tolerated, ignored"}}
    hashes = component(f"{name}HashList", {
        "type": "object", "required": ["hashes"], "additionalProperties": False,
        "properties": {"hashes": {"type": "array", "items": {"type": "string"}}, **envelope},
    })
    identifiers = component(f"{name}IdentifierList", {
        "type": "object", "required": ["data"], "additionalProperties": False,
        "properties": {"data": {"type": "array", "items": {
            "type": "object", "required": ["type", "id"],
            "properties": {"type": {"type": "string", "enum": [type_name]}, "id": {"type": "string"}}}}, **envelope},
    })
    return component(f"{name}BatchDeleteRequest", {
        "description": "Either form (D11): a list of hashes, or JSON:API resource identifiers.",
        "oneOf": [hashes, identifiers],
    })


BATCH_DELETE_RESULT = component("BatchDeleteResult", {
    "type": "object", "required": ["deleted", "failed", "count"],
    "properties": {
        "deleted": {"type": "array", "items": {"type": "string"}},
        "failed": {"type": "array", "items": {"type": "object", "properties": {
            "hash": {"type": "string"}, "reason": {"type": "string"}}}},
        "count": {"type": "integer", "description": "Number deleted"},
    },
})


def errors(**by_status):
    """Error responses, e.g. `errors(e404="Unknown hash")`; 401 (token, D14) is always listed."""
    responses = {int(key.lstrip("e")): OpenApiResponse(ERROR_DOCUMENT, description=text) for key, text in by_status.items()}
    responses.setdefault(401, OpenApiResponse(ERROR_DOCUMENT, description="`unauthorized`: token required and missing or wrong (D14)"))
    return responses


def operation(operation_id, summary, *, responses, description=None, parameters=(), request=None, tags=None):
    """`extend_schema` with the keys every SD-Host operation sets; `request` maps media types to schemas."""
    if request is not None:
        _request_bodies[operation_id] = request
    _descriptions[operation_id] = description
    return extend_schema(
        operation_id=operation_id, summary=summary, description=description, parameters=list(parameters),
        request=request, responses=responses, tags=tags,
    )


def document_view(view, **operations):
    """Attach `operation(...)`s to a view's methods by name (any action name, unlike extend_schema_view)."""
    for method_name, decorate in operations.items():
        decorate(isolate_view_method(view, method_name))
    return view


def json_body(schema, example=None):
    return {"application/json": schema} if example is None else {"application/json": {**schema, "example": example}}


def path_id(description, public_name=None, pattern=None):
    """The `{id}` path parameter (URL conf `pk`), optionally published as `public_name`."""
    return OpenApiParameter(
        "id", {"type": "string", **({"pattern": pattern} if pattern else {})}, OpenApiParameter.PATH,
        description=description, extensions={PUBLIC_NAME: public_name} if public_name else None,
    )


# --- JSON:API documents from Resource declarations (query-protocol.md §1, §7, §8) -----------

def _attribute_schema(resource, attribute):
    value_type = attribute.type
    if isinstance(value_type, Enum):
        schema = {"type": "string", "enum": list(value_type.choices)}
    elif isinstance(value_type, Integer):
        schema = {"type": "integer", "format": "int64"}
    elif isinstance(value_type, Number):
        schema = {"type": "number"}
    elif isinstance(value_type, Boolean):
        schema = {"type": "boolean"}
    elif isinstance(value_type, Timestamp):
        schema = {"type": "string", "format": "date-time", "example": "2025-03-14T09:26:53Z"}
    elif isinstance(value_type, JSONObject):
        schema = {"type": "object", "additionalProperties": True}
        if attribute.name == resource.metadata:
            schema["description"] = "Free-form metadata (D3)."
    else:
        schema = {"type": "string"}
    if attribute.expression is not None or _field_is_nullable(resource.model, attribute.path):
        schema["nullable"] = True
    return schema


def _field_is_nullable(model, path):
    try:
        return model._meta.get_field(path).null
    except Exception:
        return True


def resource_schema_name(type_name):
    return "".join(part.capitalize() for part in type_name.split("_")) + "Resource"


def _resource_object(resource):
    identifier = {"type": "object", "required": ["type", "id"], "properties": {"type": {"type": "string"}, "id": {"type": "string"}}}
    relationships = {}
    for name, rel in resource.relationships.items():
        linkage = {"type": "array", "items": identifier} if rel.many else {**identifier, "nullable": True}
        relationships[name] = {"type": "object", "properties": {"data": linkage},
                               "description": f"{'to-many' if rel.many else 'to-one'} `{rel.target}`"}
    return {
        "type": "object",
        "required": ["type", "id"],
        "properties": {
            "type": {"type": "string", "enum": [resource.type]},
            "id": {"type": "string"},
            "attributes": {"type": "object", "properties": {
                name: _attribute_schema(resource, attr) for name, attr in resource.attributes.items()
            }},
            "relationships": {"type": "object", "properties": relationships},
        },
    }


def _included(resource):
    """`{"included": ...}` for a document of `resource`; empty when it has no `include` paths."""
    types = reachable_types(resource)
    if not types:
        return {}
    return {"included": {"type": "array", "description": "Related resources asked for with `include`, each once.",
                         "items": {"oneOf": [ref(resource_schema_name(t)) for t in types]}}}


def resource_document(resource):
    """Reference to the single-resource document component of `resource`."""
    name = resource_schema_name(resource.type).replace("Resource", "Document")
    return component(name, {
        "type": "object", "required": ["data"],
        "properties": {"data": ref(resource_schema_name(resource.type)), **_included(resource)},
    })


PATCH_MEDIA_TYPES = ("application/vnd.api+json", "application/json")


def update_document(resource, attributes, relationships=()):
    """Reference to the body of `PATCH` on one `resource` (JSON:API's update form): a resource document whose
    `attributes` follow the `attributes` schema and whose writable `relationships` are named (core/jsonapi/writes.py);
    `request` maps both JSON media types to it."""
    linked = {}
    for name in relationships:
        rel = resource.relationships[name]
        target = resource_for(rel.target)
        linked_id = TAG_NAME if rel.target == "tag" else {
            "type": "string", **({"pattern": f"^{target.id_pattern}$"} if target.id_pattern else {})}
        identifier = {"type": "object", "required": ["type", "id"],
                      "properties": {"type": {"type": "string", "enum": [rel.target]}, "id": linked_id}}
        linkage = {"type": "array", "items": identifier} if rel.many else {**identifier, "nullable": True}
        linked[name] = {"type": "object", "required": ["data"], "properties": {"data": linkage}}
    member = {"type": "object", "additionalProperties": True}
    id_schema = {"type": "string", **({"pattern": f"^{resource.id_pattern}$"} if resource.id_pattern else {})}
    data = {
        "type": "object", "required": ["type", "id"], "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": [resource.type]},
            "id": {**id_schema, "description": "The id in the URL (409 otherwise)"},
            "attributes": attributes,
            "relationships": {"type": "object", "additionalProperties": False, "properties": linked},
            "meta": member, "links": member,
        },
    }
    name = resource_schema_name(resource.type).replace("Resource", "UpdateDocument")
    schema = component(name, {"type": "object", "required": ["data"], "additionalProperties": False,
                              "properties": {"data": data, "meta": member, "jsonapi": member}})
    return {media: schema for media in PATCH_MEDIA_TYPES}


def updated_document(resource):
    """Reference to the answer of a PATCH: the resource document, with the D3 keys applied in `meta`."""
    name = resource_schema_name(resource.type).replace("Resource", "UpdatedDocument")
    return component(name, {
        "type": "object", "required": ["data", "meta"],
        "properties": {"data": ref(resource_schema_name(resource.type)), "meta": {
            "type": "object", "required": ["updated_fields"],
            "properties": {"updated_fields": {"type": "array", "items": {"type": "string"},
                                              "description": "The D3 keys the document stood for"}}}},
    })


PATCH_ERRORS = {
    "e400": "`invalid_request`: not a resource document, or a value fails D3's validation (`source.pointer` names "
            "it, e.g. /data/attributes/name)",
    "e409": "`conflict`: `data.type` is not this resource's type, or `data.id` not the id in the URL",
    "e415": "`unsupported_media_type`: application/vnd.api+json with media type parameters",
}


def collection_document(resource):
    """Reference to the collection document component of `resource` (query-protocol.md §7)."""
    name = resource_schema_name(resource.type).replace("Resource", "Collection")
    integer = {"type": "integer"}
    return component(name, {
        "type": "object", "required": ["data", "meta", "links"],
        "properties": {
            "data": {"type": "array", "items": ref(resource_schema_name(resource.type))},
            **_included(resource),
            "meta": {"type": "object", "properties": {
                "total": integer,
                "page": {"type": "object", "description": "Echo of the paging style used.", "properties": {
                    "number": integer, "size": integer, "total": integer, "offset": integer, "limit": integer,
                }},
            }},
            "links": {"type": "object", "properties": {
                key: {"type": "string", "format": "uri-reference"} for key in ("self", "first", "prev", "next", "last")
            }},
        },
    })


def document_parameters(resource):
    """`fields[TYPE]` and `include` for a single-resource read; a list view's query parameters (filter, sort,
    page, fields, include) come from its filter backend and pagination class."""
    return [
        OpenApiParameter(p["name"], p["schema"], OpenApiParameter.QUERY, description=p["description"])
        for p in jsonapi_document_parameters(resource)
    ]


QUERY_ERROR = "`invalid_filter`, `unsupported_operation`, `invalid_tag_filter` or `invalid_parameter` (query-protocol.md §9)"


def read_operations(resource, noun, collection_name, id_parameter):
    """`extend_schema_view` keyword arguments for the JSON:API `list` and `retrieve` actions."""
    return {
        "list": operation(
            f"{collection_name}_list", f"List {noun}s (query protocol)",
            description=f"Each filter the {noun}s take is a declared parameter, `filter[ATTR]` (equals) or "
                        f"`filter[ATTR][OP]`, ANDed. {FILTER_FORMS[0].upper()}{FILTER_FORMS[1:]}.",
            responses={200: OpenApiResponse(collection_document(resource), description="Collection document"),
                       **errors(e400=QUERY_ERROR)},
        ),
        "retrieve": operation(
            f"{collection_name}_retrieve", f"One {noun}",
            parameters=[id_parameter, *document_parameters(resource)],
            responses={200: OpenApiResponse(resource_document(resource), description="Single document"),
                       **errors(e400=QUERY_ERROR, e404=f"`not_found`: unknown {noun}")},
        ),
    }


def sse(operation_id, summary, description, event_schema, *, parameters=(), tags, not_found=None, ends=False):
    """An operation answering `text/event-stream`, one JSON object per event's `data:` line, each event with an `id`.

    The media type's schema is that JSON object, the payload of one event, not the frame (`data:`, `id:`, ...):
    the convention of hey-api/openapi-ts (its SSE client validates `JSON.parse(data)` against it) and Speakeasy,
    and what OpenAPI 3.2 says with `itemSchema` (docs/architecture.md, "The OpenAPI schema").
    `ends`: the stream closes after a final event, and a reconnect whose `Last-Event-ID` is that event's id is
    answered 204 (core/sse.py)."""
    responses = {"200": {
        "description": "Server-Sent Events; each event's `data` is one JSON object of this schema.",
        "content": {"text/event-stream": {"schema": event_schema}},
    }}
    if ends:
        responses["204"] = {"description": "`Last-Event-ID` is the id of the final event, which the stream has sent "
                                           "already: nothing more will come (EventSource stops reconnecting)"}
    if not_found:
        responses["404"] = {"description": not_found, "content": {"application/json": {"schema": ERROR_DOCUMENT}}}
    responses["401"] = {"description": "`unauthorized` (D14)", "content": {"application/json": {"schema": ERROR_DOCUMENT}}}
    return {"operationId": operation_id, "summary": summary, "description": description, "tags": tags,
            "parameters": [*parameters, LAST_EVENT_ID_ENDS if ends else LAST_EVENT_ID], "responses": responses}


LAST_EVENT_ID = {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "Sent by a reconnecting EventSource; the current state comes first anyway"}
LAST_EVENT_ID_ENDS = {**LAST_EVENT_ID, "description": "Sent by a reconnecting EventSource: the id of the final event "
                                                      "gets 204, any other the current state first"}


# --- hooks (SPECTACULAR_SETTINGS) -----------------------------------------------------------

def discover_schema_modules(endpoints, **kwargs):
    """Preprocessing hook: import every `<app>/api/schema.py` so its declarations apply."""
    autodiscover_modules("api.schema")
    all_type_names()
    return endpoints


WRITE_METHODS = {"post", "put", "patch", "delete"}
CROSS_ORIGIN_REFUSED = ("`cross_origin_refused`: sent by a web page whose origin is neither this server nor listed in "
                        "SDHOST_CORS_ORIGINS (CSRF)")


def postprocess(result, generator, request, public, **kwargs):
    """Postprocessing hook: resource components, plain-view paths, public path parameter names."""
    for type_name in all_type_names():
        _components.setdefault(resource_schema_name(type_name), _resource_object(resource_for(type_name)))
    result.setdefault("components", {}).setdefault("schemas", {}).update(_components)
    result["components"].setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http", "scheme": "bearer", "description": "Only when the server is configured with a token (D14).",
    }
    result["security"] = [{}, {"bearerAuth": []}]
    paths = result.setdefault("paths", {})
    for item in paths.values():
        for op in item.values():
            body = _request_bodies.get(op.get("operationId"))
            if body is not None and "requestBody" not in op:
                op["requestBody"] = {"content": {media: {"schema": schema} for media, schema in body.items()}}
            if body is not None:
                op["requestBody"]["required"] = True  # every write answers 400 to an empty body
            if not _descriptions.get(op.get("operationId")):
                op.pop("description", None)  # drf-spectacular's fallback: the view's docstring, written for us
    for path, item in _paths.items():
        paths.setdefault(path, {}).update(item)
    for item in paths.values():
        for op in item.values():
            for content in op.get("requestBody", {}).get("content", {}).values():
                _defaults_into_descriptions(content["schema"], result["components"]["schemas"], set())
    for item in paths.values():
        for method, op in item.items():
            if method in WRITE_METHODS:  # core.middleware.CrossOriginWriteMiddleware
                refused = op["responses"].setdefault("403", {
                    "description": "", "content": {"application/json": {"schema": ERROR_DOCUMENT}}})
                refused["description"] = "; or ".join(filter(None, [refused["description"], CROSS_ORIGIN_REFUSED]))
            for status, response in op["responses"].items():
                _add_error_example(status, response)
    result["paths"] = {_publish_parameter_names(path, item): item for path, item in sorted(paths.items())}
    _as_openapi_31(result)
    return result


def _as_openapi_31(node):
    """OpenAPI 3.1 (JSON Schema 2020-12) from the 3.0 idioms the declarations are written in: `nullable: true`
    becomes a `null` type (or an `anyOf` with one, beside a reference or a composition), a boolean
    `exclusiveMinimum` the bound itself. Examples are left as they are."""
    if isinstance(node, list):
        for item in node:
            _as_openapi_31(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        if key not in ("example", "examples", "enum", "default", "const"):
            _as_openapi_31(value)
    for bound in ("Minimum", "Maximum"):
        if node.get(f"exclusive{bound}") is True:
            node[f"exclusive{bound}"] = node.pop(bound.lower())
        elif node.get(f"exclusive{bound}") is False:
            del node[f"exclusive{bound}"]
    if not node.pop("nullable", False):
        return
    if isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        return
    described = {key: node.pop(key) for key in ("description", "title", "example") if key in node}
    schema = dict(node)
    node.clear()
    node.update({"anyOf": [schema, {"type": "null"}], **described})


def _defaults_into_descriptions(schema, components, seen):
    """A request schema's `default`s move into the descriptions ("Default: `512`."): openapi-typescript (default
    mode, `defaultNonNullable`) types a component property with a `default` as required, although a request may
    leave it out. Walks the components the schema refers to (each once)."""
    if isinstance(schema, list):
        for item in schema:
            _defaults_into_descriptions(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    target = schema.get("$ref", "").removeprefix("#/components/schemas/")
    if target and target not in seen:
        seen.add(target)
        _defaults_into_descriptions(components[target], components, seen)
    if "default" in schema and isinstance(schema.get("type"), str):
        default = schema.pop("default")
        said = f"Default: `{default if isinstance(default, str) and default else json.dumps(default)}`."
        schema["description"] = f"{schema['description'].rstrip('.')}. {said}" if schema.get("description") else said
    for key, value in schema.items():
        if key not in ("example", "examples", "enum", "const"):
            _defaults_into_descriptions(value, components, seen)


def _add_error_example(status, response):
    """An error response's example shows its own status and the first error code its description names."""
    content = response.get("content", {}).get("application/json")
    if not str(status).startswith(("4", "5")) or content is None or content.get("schema") != ERROR_DOCUMENT:
        return
    description = response.get("description", "")
    codes = re.findall(r"`(\w+)`", description) or ["internal_error" if str(status).startswith("5") else "invalid_request"]
    title = TITLES.get(codes[0], codes[0].replace("_", " ").title())
    explained = re.match(r"`\w+`:\s*(\S.*)", description)
    detail = explained.group(1) if explained else title
    content["example"] = {"errors": [{
        "status": str(status), "code": codes[0], "title": title, "detail": detail[0].upper() + detail[1:],
    }]}


def _publish_parameter_names(path, item):
    for op in item.values():
        for param in op.get("parameters", []):
            public = param.pop(PUBLIC_NAME, None)
            if public and param.get("in") == "path":
                path = path.replace("{%s}" % param["name"], "{%s}" % public)
                param["name"] = public
    return path
