"""OpenAPI declarations for the task endpoints (tasks-api.md), applied to the views on import."""

from drf_spectacular.utils import OpenApiResponse

from core.openapi import (
    PATCH_ERRORS,
    add_path,
    component,
    document_view,
    errors,
    json_body,
    operation,
    path_id,
    read_operations,
    sse,
    update_document,
    updated_document,
)
from tasks_app.models import TASK_ID_PATTERN

from .parameters import ImageParametersView, ParseParametersView
from .resources import TaskResource
from .upscale import ImageUpscaleView
from .validation import submission_schema
from .views import TaskViewSet

TASK_ID = path_id("Task UUID (lower case).", pattern=f"^{TASK_ID_PATTERN}$")
IMAGE_HASH = path_id("SHA256 of the image bytes (64 lower-case hex digits).", public_name="hash",
                     pattern="^[0-9a-f]{64}$")
STRINGS = {"type": "array", "items": {"type": "string"}}
BINARY = {"type": "string", "format": "binary"}
INVALID = "`invalid_request`: body not JSON, wrong shape or a value fails validation (`source.pointer` names it)"

TASK_SUBMISSION = component("TaskSubmission", submission_schema(example={
    "checkpoint_hash": "4be1f07c" + "0" * 56, "prompt": "misty pine forest at dawn", "width": 832, "height": 1216,
    "steps": 28, "cfg_scale": 6.5, "seed": -1, "batch_size": 2, "sampler": "DPM++ 2M Karras",
}))
TASK_QUEUED = component("TaskQueued", {
    "type": "object", "required": ["task_id", "status", "position", "estimated_time"],
    "properties": {
        "task_id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["queued"]},
        "position": {"type": "integer", "minimum": 1, "description": "1-based place in the start order (D7)"},
        "estimated_time": {"type": "string", "example": "00:04:10", "description": "HH:MM:SS until this task completes"},
    },
})
TASK_IDS = component("TaskIds", {"type": "object", "required": ["task_ids"], "additionalProperties": False,
                                 "properties": {"task_ids": STRINGS}})
TASK_FAILURES = {"type": "array", "items": {"type": "object", "properties": {
    "task_id": {"type": "string"}, "reason": {"type": "string", "example": "Task already completed"}}}}
CANCEL_RESULT = component("CancelResult", {
    "type": "object", "required": ["cancelled", "failed"],
    "properties": {"cancelled": STRINGS, "failed": TASK_FAILURES},
})
PROMOTE_RESULT = component("PromoteResult", {
    "type": "object", "required": ["updated", "new_positions"],
    "properties": {
        "updated": STRINGS,
        "new_positions": {"type": "array", "items": {"type": "object", "properties": {
            "task_id": {"type": "string"}, "position": {"type": "integer"}}}},
        "failed": TASK_FAILURES,
    },
})
RUNNING_TASK = component("RunningTask", {"type": "object", "properties": {
        "id": {"type": "string"}, "status": {"type": "string", "enum": ["running"]},
        "progress": {"type": "number", "description": "Percent of the whole task"},
        "model": {"type": "string", "description": "Checkpoint name"},
        "eta": {"type": "string", "example": "00:00:48"},
        "phase": {"type": "string", "enum": ["loading", "rendering"],
                  "description": "`loading` while its worker loads the checkpoint (the eta "
                                 "holds the measured switch time), then `rendering`"},
        "preview": {"type": "integer", "nullable": True,
                    "description": "Number of the newest live preview (grows with each new "
                                   "one); null when none"},
        "preview_url": {"type": "string", "nullable": True,
                        "example": "/api/tasks/0b6f0c1e-8a57-4d2c-9f1e-0d3a5b7c9e21/preview"},
}})
QUEUE_SNAPSHOT = component("QueueSnapshot", {
    "type": "object", "required": ["current_task", "queue", "queue_length"],
    "properties": {
        "current_task": {"oneOf": [RUNNING_TASK, {"type": "null"}],
                         "description": "The running task (the first when several run), null when idle"},
        "current_tasks": {"type": "array", "items": RUNNING_TASK,
                          "description": "Every running task, one per busy worker (D41)"},
        "queue": {"type": "array", "description": "Waiting tasks in start order (D7)", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "status": {"type": "string", "enum": ["waiting"]},
            "model": {"type": "string"}, "position": {"type": "integer"},
        }}},
        "queue_length": {"type": "integer"},
    },
})

UPSCALE_REQUEST = component("UpscaleRequest", {
    "type": "object",
    "properties": {
        "upscaler": {"type": "string", "default": "Lanczos", "description": "An upscaler model hash, or Lanczos"},
        "scale": {"type": "number", "minimum": 1, "maximum": 4, "default": 2},
    },
    "additionalProperties": False,  # validate_upscale refuses other fields
    "example": {"upscaler": "9b1c0e2d...", "scale": 4},
})

document_view(
    ImageUpscaleView,
    post=operation(
        "images_upscale", "Queue an upscale of the image (D38)",
        description="A task of kind `upscale`; its result image is stored with its `task_id`. Upscaler models run "
                    "in 192 px tiles, so memory stays bounded for any image size.",
        parameters=[IMAGE_HASH], request=json_body(UPSCALE_REQUEST),
        responses={202: OpenApiResponse(TASK_QUEUED, description="Queued"),
                   **errors(e400=INVALID + ", e.g. /upscaler, /scale", e404="`not_found`: unknown image hash")},
    ),
)

document_view(
    TaskViewSet,
    **read_operations(TaskResource, "task", "tasks", TASK_ID),
    create=operation(
        "tasks_create", "Submit a task (scheduled automatically)", request=json_body(TASK_SUBMISSION),
        responses={202: OpenApiResponse(TASK_QUEUED, description="Queued"),
                   **errors(e400=INVALID + ", e.g. /checkpoint_hash, /additional_models/0/weight, /sampler")},
    ),
    patch_one=operation(
        "tasks_patch", "Change a task's tags (JSON:API resource document)",
        description="JSON:API's update form. A task's tags (D26) are its only writable member: the `tags` "
                    "relationship replaces them. Its parameters are fixed at submission: every attribute is "
                    "read-only (400). Answers the updated resource document.",
        parameters=[TASK_ID],
        request=update_document(TaskResource, {"type": "object", "maxProperties": 0,
                                               "description": "Every attribute is read-only"}, ["tags"]),
        responses={200: OpenApiResponse(updated_document(TaskResource), description="Updated"),
                   **errors(e404="`not_found`: unknown task", **PATCH_ERRORS)},
    ),
    batch_cancel=operation(
        "tasks_cancel", "Cancel a list of tasks (D27)", request=json_body(TASK_IDS),
        responses={200: OpenApiResponse(CANCEL_RESULT, description="Cancelled; others listed in `failed`"),
                   **errors(e400=INVALID)},
    ),
    preview=operation(
        "tasks_preview", "The running task's live preview (issue 26)",
        description="A small WebP (1/8 of the render's size; a grid of the task's images for a batch), made every "
                    "SDHOST_PREVIEW_EVERY sampling steps while the task renders and discarded when it ends. The "
                    "queue stream's `preview` number grows with each new one. The ETag is `<task id>-<number>`; "
                    "`If-None-Match` answers 304. `Cache-Control: no-cache`.",
        parameters=[TASK_ID],
        responses={
            (200, "image/webp"): OpenApiResponse(BINARY, description="The newest preview"),
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
            **errors(e404="`not_found`: no such task; `no_preview`: the task is not rendering or has no preview "
                          "yet (or previews are off)"),
        },
    ),
    promote=operation(
        "tasks_promote", "Move a list of tasks to the front (D7, D27)", request=json_body(TASK_IDS),
        responses={200: OpenApiResponse(PROMOTE_RESULT, description="New positions"), **errors(e400=INVALID)},
    ),
)

add_path("/api/tasks/queue", "get", sse(
    "tasks_queue", "SSE stream of the queue",
    "One snapshot on connect, then one whenever a task is queued, starts, finishes, is cancelled or promoted, "
    "or the running task progresses.",
    QUEUE_SNAPSHOT, tags=["tasks"],
))

PARSED_PARAMETERS = component("ParsedParameters", {
    "type": "object", "required": ["task", "unresolved", "ignored"],
    "properties": {
        "task": {"type": "object", "description": "A POST /api/tasks body (TaskSubmission) resolved against the "
                                                  "library; fields the infotext lacks are absent"},
        "unresolved": {"type": "array", "description": "Referenced models not in the library", "items": {
            "type": "object", "required": ["kind", "name", "autov2"], "properties": {
                "kind": {"type": "string", "enum": ["checkpoint", "vae", "lora", "embedding", "upscaler"]},
                "name": {"type": "string", "nullable": True},
                "autov2": {"type": "string", "nullable": True, "description": "First 10 hex digits of the SHA256"},
            }}},
        "ignored": {**STRINGS, "description": "Infotext keys SD-Host does not use"},
    },
})
PARAMETERS_BODY = component("InfotextBody", {
    "type": "object", "required": ["parameters"],
    "properties": {"parameters": {"type": "string", "description": "An A1111 / Forge infotext (PNG `parameters`)"}},
    "additionalProperties": False,  # the view refuses other fields
    "example": {"parameters": "a lighthouse, <lora:add_detail:0.6>\nNegative prompt: lowres\nSteps: 25, "
                              "Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x768, "
                              "Model hash: 6ce0161689, Clip skip: 2"},
})

document_view(
    ParseParametersView,
    post=operation(
        "tasks_parse_parameters", "An A1111 infotext as a task body (D35)", request=json_body(PARAMETERS_BODY),
        description="Parses like A1111's parse_generation_parameters; never fails on unknown keys.",
        responses={200: OpenApiResponse(PARSED_PARAMETERS, description="The task body"), **errors(e400=INVALID)},
        tags=["tasks"],
    ),
)
document_view(
    ImageParametersView,
    get=operation(
        "images_parameters", "A stored image's parameters chunk as a task body (D35)",
        parameters=[IMAGE_HASH],
        responses={200: OpenApiResponse(PARSED_PARAMETERS, description="The task body"),
                   **errors(e404="`not_found`: no such image; `no_parameters`: it has no parameters chunk")},
        tags=["images"],
    ),
)
