"""OpenAPI declarations for the model endpoints (models-api.md), applied to the views on import."""

from drf_spectacular.utils import OpenApiResponse

from core.jsondata import INT64_MAX
from core.openapi import (
    BATCH_DELETE_RESULT,
    BATCH_UPDATE_RESULT,
    DELETE_RESULT,
    NOT_A_DOCUMENT,
    PATCH_ERRORS,
    TAG_NAME,
    UPDATE_RESULT,
    add_path,
    batch_delete_request,
    component,
    document_view,
    errors,
    json_body,
    operation,
    path_id,
    read_operations,
    ref,
    sse,
    update_document,
    update_request,
    updated_document,
)
from core.text import FREE_TEXT_PATTERN, NON_BLANK_FREE_TEXT_PATTERN

from ..services import MODEL_UPDATES
from .civitai import AddFromCivitaiView
from .resources import ModelResource
from .scan import CivitaiSyncBatchView, CivitaiSyncView, ScanView
from .views import ModelViewSet

TAGS = ["models"]
HASH = path_id("SHA256 of the model file (64 lower-case hex digits).", public_name="hash", pattern="^[0-9a-f]{64}$")
NULLABLE_STRING = {"type": "string", "nullable": True}
FREE_TEXT = {**NULLABLE_STRING, "pattern": FREE_TEXT_PATTERN}  # no control characters but tab and line breaks

MODEL_UPDATE_PROPERTIES = {
    "name": {"type": "string", "pattern": NON_BLANK_FREE_TEXT_PATTERN, "description": "Not blank"},
    "description": {**FREE_TEXT, "description": "Markdown"},
    "base_model": {**FREE_TEXT, "maxLength": 100},
    "source_url": FREE_TEXT,
    "cover_image": {**NULLABLE_STRING, "pattern": "^[0-9a-f]{64}$", "description": "Hash of a stored image"},
    "tags": {"type": "array", "items": TAG_NAME, "description": "Replaces the whole tag set"},
}
MODEL_UPDATE = update_request(
    "ModelUpdate", MODEL_UPDATES, MODEL_UPDATE_PROPERTIES,
    description="D3: recognised keys below; `tag_<name>: true|false` adds/removes one tag (after `tags`, whatever "
                "the key order); any other key but `data` is merged into `metadata` (`null` deletes it). Metadata keys: "
                "1-64 characters of A-Z, a-z, 0-9 and `_`.",
    example={"tag_sharp": True, "rating": 4.5, "is_favorite": True, "custom_note": "best at 30 steps"})
MODEL_ATTRIBUTES_UPDATE = component("ModelAttributesUpdate", {
    "type": "object",
    "description": "Each key is the D3 key of that name (`name`, `description`, `base_model`, `source_url`; any "
                   "other key is metadata); `metadata`'s keys are merged into the model's metadata (`null` deletes "
                   "one). Tags and the cover image are relationships.",
    "properties": {
        **{key: value for key, value in MODEL_UPDATE_PROPERTIES.items() if key not in ("tags", "cover_image")},
        "metadata": {"type": "object", "additionalProperties": True},
    },
    "additionalProperties": True,
    "not": {"anyOf": [{"required": [name]} for name in ModelResource.relationships]},
    "example": {"name": "dreamlike-valley-v3", "metadata": {"rating": 4.5}},
})
# A positive integer up to 2^63 - 1, as a JSON number or a string of digits (civitai.mapping.parse_id). The string
# form: up to 18 digits (so always within range; parse_id takes 19), not all zeros, white space around them.
CATALOGUE_DIGITS = "|".join(f"0{{{zeros}}}[1-9][0-9]{{0,{17 - zeros}}}" for zeros in range(18))
CATALOGUE_ID = {"oneOf": [{"type": "string", "pattern": rf"^\s*(?:{CATALOGUE_DIGITS})\s*$"},
                          {"type": "integer", "minimum": 1, "maximum": INT64_MAX}]}
CIVITAI_IMPORT = component("CivitaiImportRequest", {
    "type": "object", "required": ["model_id"],
    "properties": {
        "model_id": {**CATALOGUE_ID, "description": "Civitai model id"},
        "version_id": {**CATALOGUE_ID, "nullable": True,
                       "description": "Civitai version id; default: the model's latest version"},
    },
    "example": {"model_id": "10391", "version_id": "88214"},
})
CIVITAI_STATUS = component("CivitaiImportStatus", {
    "type": "object", "required": ["hash", "status", "tracking_url"],
    "properties": {
        "hash": {"type": "string"},
        "status": {"type": "string", "enum": ["downloading", "ready", "failed"]},
        "tracking_url": {"type": "string", "example": "/api/models/add-from-civitai/4be1f07c..."},
    },
})
IMPORT_EVENT = component("CivitaiImportEvent", {
    "type": "object", "required": ["status"],
    "description": "Progress events, then one final event (`completed` with `model_info`, or `failed` with `error`).",
    "properties": {
        "status": {"type": "string", "enum": ["downloading", "completed", "failed"]},
        "progress": {"type": "number", "description": "Percent"},
        "speed": {"type": "string", "example": "4.1MB/s"},
        "eta": {"type": "string", "example": "00:03:12"},
        "model_info": ref("ModelResource"),
        "error": {"type": "string", "example": "SHA256 mismatch"},
    },
})

UNKNOWN = "`not_found`: unknown hash"
INVALID = "`invalid_request`: body not JSON, wrong shape or a value fails validation (`source.pointer` names it)"

document_view(
    ModelViewSet,
    **read_operations(ModelResource, "model", "models", HASH),
    update_one=operation(
        "models_update", "Update one model's metadata (D3)", tags=TAGS, parameters=[HASH],
        request=json_body(MODEL_UPDATE),
        responses={200: OpenApiResponse(UPDATE_RESULT, description="Updated"), **errors(e400=INVALID, e404=UNKNOWN)},
    ),
    patch_one=operation(
        "models_patch", "Update one model with a JSON:API resource document", tags=TAGS,
        description="JSON:API's update form of `POST /api/models/{hash}`: `data.attributes` and the `tags` and "
                    "`cover_image` relationships are mapped onto the D3 update, which is applied the same way. "
                    "Answers the updated resource document.",
        parameters=[HASH], request=update_document(ModelResource, MODEL_ATTRIBUTES_UPDATE, ["tags", "cover_image"]),
        responses={200: OpenApiResponse(updated_document(ModelResource), description="Updated"),
                   **errors(e404=UNKNOWN, **PATCH_ERRORS)},
    ),
    batch_update=operation(
        "models_batch_update", "Update several models' metadata", tags=TAGS,
        request=json_body({"type": "object", "additionalProperties": MODEL_UPDATE, **NOT_A_DOCUMENT,
                           "description": "Maps model hashes to update objects."}),
        responses={200: OpenApiResponse(BATCH_UPDATE_RESULT, description="Applied; unknown hashes listed in `failed`"),
                   **errors(e400=INVALID + "; nothing changes")},
    ),
    destroy_one=operation(
        "models_destroy", "Delete one model (row and file)", tags=TAGS, parameters=[HASH],
        responses={200: OpenApiResponse(DELETE_RESULT, description="Deleted"),
                   **errors(e404=UNKNOWN, e409="`model_in_use`: used by a pending or running task (D11)")},
    ),
    batch_destroy=operation(
        "models_batch_destroy", "Delete several models", tags=TAGS, request=json_body(batch_delete_request("model")),
        responses={200: OpenApiResponse(BATCH_DELETE_RESULT, description="Deleted; others listed in `failed`"),
                   **errors(e400=INVALID)},
    ),
    content=operation(
        "models_content", "Download the model file", tags=TAGS, parameters=[HASH],
        responses={
            (200, "application/octet-stream"): OpenApiResponse({"type": "string", "format": "binary"}, description="The stored file (D21)"),
            (206, "application/octet-stream"): OpenApiResponse({"type": "string", "format": "binary"}, description="Byte range"),
            **errors(e404=UNKNOWN, e409="`model_not_ready`: status is `downloading` or `failed` (D2)",
                     e416="`range_not_satisfiable`"),
        },
    ),
)

document_view(AddFromCivitaiView, post=operation(
    "models_add_from_civitai", "Import a model from Civitai (D12)", tags=TAGS, request=json_body(CIVITAI_IMPORT),
    responses={
        202: OpenApiResponse(CIVITAI_STATUS, description="Download started"),
        200: OpenApiResponse(CIVITAI_STATUS, description="Model already known; its current status"),
        **errors(e400="`invalid_request`: missing id or a catalogue type SD-Host does not hold",
                 e403="`feature_disabled`: Civitai imports switched off (D30)",
                 e404="`not_found`: unknown model or version",
                 e502="`catalogue_unavailable`"),
    },
))

add_path("/api/models/add-from-civitai/{hash}", "get", sse(
    "models_import_progress", "SSE progress of a Civitai import",
    "Progress events, then one final event, then the stream closes; after the end the final event comes at once.",
    IMPORT_EVENT, tags=TAGS, not_found=UNKNOWN + " (an error document, not a stream)", ends=True,
    parameters=[{"name": "hash", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                 "description": "SHA256 of the model file"}],
))

SCAN_STARTED = component("ModelScanStarted", {
    "type": "object", "required": ["status", "scan", "roots", "status_url", "tracking_url"],
    "properties": {
        "status": {"type": "string", "enum": ["scanning"]},
        "scan": {"type": "string", "description": "This scan's id (in every event)"},
        "roots": {"type": "array", "items": {"type": "string"}, "description": "The folders of SDHOST_MODEL_ROOTS"},
        "status_url": {"type": "string", "example": "/api/models/scan"},
        "tracking_url": {"type": "string", "example": "/api/models/scan/events"},
    },
})
SCAN_EVENT = component("ModelScanEvent", {
    "type": "object", "required": ["status"],
    "description": "`idle` before the first scan; progress (`scanning`), then one final event (`completed` with "
                   "counts, or `failed` with `error`).",
    "properties": {
        "status": {"type": "string", "enum": ["idle", "scanning", "completed", "failed"]},
        "scan": {"type": "string"},
        "root": {"type": "string", "nullable": True, "description": "The root being scanned"},
        "roots_done": {"type": "integer"}, "roots": {"type": "integer"},
        "files_done": {"type": "integer"}, "files": {"type": "integer"},
        "imported": {"type": "integer"}, "relinked": {"type": "integer"}, "known": {"type": "integer"},
        "hashed": {"type": "integer"}, "missing": {"type": "integer"}, "changed": {"type": "integer"},
        "skipped": {"type": "integer"},
        "skipped_files": {"type": "array", "items": {"type": "object", "properties": {
            "path": {"type": "string"}, "reason": {"type": "string"}}}},
        "error": {"type": "string"},
    },
})
NO_MEMBERS = {"type": "object", "maxProperties": 0, **NOT_A_DOCUMENT,
              "description": "No members (or no body): only the configured roots are scanned, never a path sent"}
SYNC_STATE = component("CivitaiSyncState", {
    "type": "object", "required": ["state"],
    "properties": {
        "state": {"type": "string", "enum": ["synced", "not_found", "offline", "failed"]},
        "at": {"type": "string", "format": "date-time"},
        "detail": {"type": "string"},
    },
})
RETRY_NOT_FOUND = {"type": "boolean", "default": False,
                   "description": "Also the models Civitai did not know last time (`not_found`)"}
SYNC_BATCH = component("CivitaiSyncBatchRequest", {
    "description": "`hashes`, or `all`: every model without Civitai data (`not_found` ones only with "
                   "`retry_not_found`).",
    "oneOf": [
        {"type": "object", "required": ["hashes"], "additionalProperties": False, "properties": {
            "hashes": {"type": "array", "minItems": 1,
                       "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
            "retry_not_found": RETRY_NOT_FOUND}},
        {"type": "object", "required": ["all"], "additionalProperties": False, "properties": {
            "all": {"type": "boolean", "enum": [True]}, "retry_not_found": RETRY_NOT_FOUND}},
    ],
    "example": {"all": True},
})
SYNC_QUEUED = component("CivitaiSyncQueued", {
    "type": "object", "required": ["queued", "hashes"],
    "properties": {"queued": {"type": "integer"}, "hashes": {"type": "array", "items": {"type": "string"}}},
})
CIVITAI_OFF = "`feature_disabled`: Civitai switched off (D30)"

document_view(ScanView, get=operation(
    "models_scan_status", "The watched model folders and the scan's state", tags=TAGS,
    responses={200: OpenApiResponse({"type": "object", "required": ["roots", "scan_on_start", "state", "tracking_url"],
                                     "properties": {
        "roots": {"type": "array", "items": {"type": "object", "required": ["path", "layout"], "properties": {
            "path": {"type": "string"},
            "layout": {"type": "string", "nullable": True, "enum": ["a1111", "comfyui", "invokeai", None]}}}},
        "scan_on_start": {"type": "boolean"},
        "state": ref("ModelScanEvent"),
        "tracking_url": {"type": "string", "example": "/api/models/scan/events"},
    }}, description="SDHOST_MODEL_ROOTS, SDHOST_SCAN_ON_START and the current (or last) scan's state"),
        **errors()},
), post=operation(
    "models_scan", "Scan the configured model folders in place", tags=TAGS, request=json_body(NO_MEMBERS),
    description="Registers the weights files under each folder of SDHOST_MODEL_ROOTS in place (docs/library.md); "
                "progress on `tracking_url` (SSE). A body member (a path, say) is refused: only configured folders "
                "are scanned.",
    responses={
        202: OpenApiResponse(SCAN_STARTED, description="Scan started"),
        **errors(e400="`invalid_request`: a body member was sent",
                 e409="`scan_running`: a scan is running; `no_model_roots`: SDHOST_MODEL_ROOTS is empty"),
    },
))

add_path("/api/models/scan/events", "get", sse(
    "models_scan_progress", "SSE progress of the model folder scan",
    "The current state at once (`idle` before any scan, or the last scan's final event), progress events, then one "
    "final event, then the stream closes.", SCAN_EVENT, tags=TAGS, ends=True,
))

document_view(CivitaiSyncView, post=operation(
    "models_civitai_sync", "Fill a model in from Civitai by its hash", tags=TAGS, parameters=[HASH],
    request=json_body({**NO_MEMBERS, "description": "No members (or no body)"}),
    description="Looks the file up with Civitai's by-hash API and fills in what the model lacks (name while it is "
                "the file's name, description, base model, tags, trigger words, ids, cover). The outcome is "
                "`meta.civitai_sync` and the model's `metadata.civitai_sync`: `offline` is not an error.",
    responses={
        200: OpenApiResponse({"type": "object", "required": ["data", "meta"], "properties": {
            "data": ref("ModelResource"), "meta": {"type": "object", "properties": {"civitai_sync": SYNC_STATE}}}},
            description="Looked up (or had Civitai data already)"),
        **errors(e400="`invalid_request`: a body member was sent", e403=CIVITAI_OFF, e404=UNKNOWN),
    },
))

document_view(CivitaiSyncBatchView, post=operation(
    "models_civitai_sync_batch", "Fill several models in from Civitai by hash (background)", tags=TAGS,
    request=json_body(SYNC_BATCH),
    description="Rate-limited (SDHOST_CIVITAI_SYNC_RATE); each model's outcome lands in its "
                "`metadata.civitai_sync`.",
    responses={
        202: OpenApiResponse(SYNC_QUEUED, description="Sync started"),
        200: OpenApiResponse(SYNC_QUEUED, description="Nothing to sync"),
        **errors(e400=INVALID, e403=CIVITAI_OFF, e404="`not_found`: an unknown hash",
                 e409="`sync_running`: a batch is running"),
    },
))
