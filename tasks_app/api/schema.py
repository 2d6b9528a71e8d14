"""OpenAPI declarations for the task endpoints (tasks-api.md), applied to the views on import."""

from drf_spectacular.utils import OpenApiResponse

from sdhost.openapi import add_path, component, document_view, errors, json_body, operation, path_id, read_operations, sse

from images_app.api.views import ImageViewSet

from .resources import TaskResource
from .views import TaskViewSet

TASK_ID = path_id("Task UUID.")
IMAGE_HASH = path_id("SHA256 of the image bytes (64 lower-case hex digits).", public_name="hash",
                     pattern="^[0-9a-f]{64}$")
STRINGS = {"type": "array", "items": {"type": "string"}}
INVALID = "`invalid_request`: body not JSON, wrong shape or a value fails validation (`source.pointer` names it)"

TASK_SUBMISSION = component("TaskSubmission", {
    "type": "object", "required": ["checkpoint_hash", "prompt"],
    "properties": {
        "checkpoint_hash": {"type": "string", "description": "A `ready` checkpoint (D9)"},
        "prompt": {"type": "string", "minLength": 1},
        "negative_prompt": {"type": "string", "default": ""},
        "width": {"type": "integer", "minimum": 64, "multipleOf": 8, "default": 512,
                  "description": "Up to the configured maximum (default 2048, D30)"},
        "height": {"type": "integer", "minimum": 64, "multipleOf": 8, "default": 512,
                   "description": "Up to the configured maximum (default 2048, D30)"},
        "steps": {"type": "integer", "minimum": 1, "maximum": 200, "description": "Default: configured default_steps"},
        "cfg_scale": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 30,
                      "description": "Default: configured default_cfg_scale"},
        "seed": {"type": "integer", "format": "int64", "minimum": -1, "default": -1, "description": "-1 = random (D10)"},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1,
                       "description": "Up to generation.max_batch_size (D17)"},
        "sampler": {"type": "string", "default": "DPM++ 2M Karras", "description": "A name listed by GET /api/config (D8)"},
        "vae_hash": {"type": "string", "nullable": True, "description": "A `ready` VAE (D9)"},
        "additional_models": {"type": "array", "items": {
            "type": "object", "required": ["model_hash"],
            "properties": {
                "model_hash": {"type": "string", "description": "A `ready` lora, controlnet or embedding, once per task"},
                "weight": {"type": "number", "minimum": 0, "maximum": 2, "default": 1.0},
                "control_image": {"type": "string", "description": "Image hash; required for controlnet, else not allowed"},
            },
        }},
        "tags": {**STRINGS, "description": "Tag names (D3, D26)"},
        "init_image": {"type": "string", "nullable": True,
                       "description": "Image hash: image to image (D36); scaled and centre-cropped to width x height"},
        "denoising_strength": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.75,
                               "description": "With init_image only; ceil(steps x strength) steps run"},
        "mask_image": {"type": "string", "nullable": True,
                       "description": "Image hash, needs init_image: inpainting (white = repaint, black = keep; "
                                      "fitted to the size like the init image)"},
        "mask_blur": {"type": "integer", "minimum": 0, "maximum": 64, "default": 4, "description": "Pixels"},
        "hires": {"type": "object", "nullable": True, "description": "Hires fix (D37), text to image only",
                  "properties": {
                      "scale": {"type": "number", "minimum": 1, "maximum": 4,
                                "description": "Final size = floor(side x scale) to a multiple of 8; or give width "
                                               "and height"},
                      "width": {"type": "integer", "multipleOf": 8}, "height": {"type": "integer", "multipleOf": 8},
                      "steps": {"type": "integer", "minimum": 0, "maximum": 200, "default": 0,
                                "description": "Second-pass steps; 0 = the task's steps"},
                      "denoising_strength": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.7},
                      "upscaler": {"type": "string", "default": "Latent",
                                   "description": "Latent, Latent (nearest-exact), Lanczos, or an upscaler model hash"},
                  }},
    },
    "example": {"checkpoint_hash": "4be1f07c...", "prompt": "misty pine forest at dawn", "width": 832, "height": 1216,
                "steps": 28, "cfg_scale": 6.5, "seed": -1, "batch_size": 2, "sampler": "DPM++ 2M Karras"},
})
TASK_QUEUED = component("TaskQueued", {
    "type": "object", "required": ["task_id", "status", "position", "estimated_time"],
    "properties": {
        "task_id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["queued"]},
        "position": {"type": "integer", "minimum": 1, "description": "1-based place in the start order (D7)"},
        "estimated_time": {"type": "string", "example": "00:04:10", "description": "HH:MM:SS until this task completes"},
    },
})
TASK_IDS = component("TaskIds", {"type": "object", "required": ["task_ids"], "properties": {"task_ids": STRINGS}})
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
QUEUE_SNAPSHOT = component("QueueSnapshot", {
    "type": "object", "required": ["current_task", "queue", "queue_length"],
    "properties": {
        "current_task": {"type": "object", "nullable": True, "description": "The running task, null when idle",
                         "properties": {
                             "id": {"type": "string"}, "status": {"type": "string", "enum": ["running"]},
                             "progress": {"type": "number", "description": "Percent of the whole task"},
                             "model": {"type": "string", "description": "Checkpoint name"},
                             "eta": {"type": "string", "example": "00:00:48"},
                         }},
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
    "example": {"upscaler": "9b1c0e2d...", "scale": 4},
})

document_view(
    ImageViewSet,
    upscale=operation(
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
    batch_cancel=operation(
        "tasks_cancel", "Cancel a list of tasks (D27)", request=json_body(TASK_IDS),
        responses={200: OpenApiResponse(CANCEL_RESULT, description="Cancelled; others listed in `failed`"),
                   **errors(e400=INVALID)},
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
