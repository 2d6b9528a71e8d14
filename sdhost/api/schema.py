"""OpenAPI declarations for GET /api, GET /api/version and GET /api/config (system-api.md), applied on import."""

from drf_spectacular.utils import OpenApiResponse

from core.openapi import component, document_view, errors, operation

from .health import HealthView
from .views import COLLECTIONS, ConfigView, IndexView, VersionView

NULLABLE_STRING = {"type": "string", "nullable": True}
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}

INDEX = component("ApiIndex", {
    "type": "object", "required": ["api_version", "system_version", "links"],
    "properties": {
        "api_version": {**STRING, "example": "1.0.0"},
        "system_version": STRING,
        "links": {"type": "object", "description": "Where the collections, the queue stream and the docs are.",
                  "required": list(COLLECTIONS),
                  "properties": {name: STRING for name in (*COLLECTIONS, "queue", "version", "config", "schema", "docs")}},
    },
})
VERSION = component("Version", {
    "type": "object",
    "properties": {
        "api_version": {**STRING, "example": "1.0.0"},
        "system_version": STRING,
        "build_date": {**NULLABLE_STRING, "format": "date-time"},
        "git_commit": NULLABLE_STRING,
        "python_version": STRING,
        "pytorch_version": STRING,
        "cuda_version": NULLABLE_STRING,
        "platform": {**STRING, "example": "linux-x86_64"},
    },
})


def section(**properties):
    return {"type": "object", "properties": properties}


CONFIG = component("Config", {
    "type": "object",
    "description": "Effective configuration; catalogue and API tokens are never included (D12, D14, D15).",
    "properties": {
        "server": section(host=STRING, port=INTEGER, workers=INTEGER),
        "storage": section(models_path=STRING, images_path=STRING, cache_path=STRING),
        "generation": section(
            default_steps=INTEGER, default_cfg_scale={"type": "number"}, max_batch_size=INTEGER,
            max_image_size=INTEGER, safety_checker=BOOLEAN, samplers={"type": "array", "items": STRING},
            upscalers={"type": "array", "items": STRING,
                       "description": "Built-in hires upscalers (D37); upscaler models go by hash"},
            parameters={"type": "array", "description": (
                "The render parameters of POST /api/tasks with their limits and defaults as configured, the key "
                "that writes each into a PNG's `parameters` chunk, and hints for a form (label, widget, step, hint, order); "
                "the web UI builds its composer from this list"),
                "items": {"type": "object", "required": ["name", "type"], "properties": {
                    "name": STRING, "type": {"type": "string", "enum": ["text", "integer", "number", "seed"]},
                    "default": {}, "required": BOOLEAN, "minimum": {"type": "number"}, "maximum": {"type": "number"},
                    "multiple_of": INTEGER, "choices": {"type": "array", "items": STRING}, "description": STRING,
                    "infotext_key": STRING, "label": STRING,
                    "widget": {"type": "string", "enum": ["prompt", "textarea", "number", "select"]},
                    "step": {"type": "number"}, "hint": STRING, "order": INTEGER}}},
            previews=section(method={"type": "string", "enum": ["off", "approx"],
                                     "description": "SDHOST_PREVIEW: how running tasks' live previews are made"},
                             every_steps={**INTEGER, "description": "SDHOST_PREVIEW_EVERY: a preview every N steps"}),
        ),
        "hardware": section(
            device={**STRING, "example": "cuda"}, gpu_count=INTEGER,
            memory_gb={"type": "number", "description": "GiB of the generation device: the GPU's on CUDA, system RAM on "
                                                        "the CPU and MPS"},
            ram_gb={"type": "number", "nullable": True, "description": "GiB of system RAM (null where unknown)"},
            vram_gb={"type": "number", "nullable": True, "description": "GiB of the GPU's memory; null without a GPU"},
        ),
        "features": section(civitai_enabled=BOOLEAN, auto_download=BOOLEAN, queue_enabled=BOOLEAN),
    },
})

document_view(IndexView, get=operation(
    "api_index", "Entry point: API version and links to the collections",
    responses={200: OpenApiResponse(INDEX, description="Index"), **errors()},
))
document_view(VersionView, get=operation(
    "version", "Version information (D15)", responses={200: OpenApiResponse(VERSION, description="Versions"), **errors()},
))
document_view(ConfigView, get=operation(
    "config", "Configuration without secrets (D15)", responses={200: OpenApiResponse(CONFIG, description="Configuration"), **errors()},
))

HEALTH = component("Health", {
    "type": "object",
    "description": "Database reachable, live render workers, queue length (D42); no secrets.",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
        "database": section(vendor=STRING, reachable=BOOLEAN),
        "workers": {"type": "array", "items": section(
            id=STRING, host=STRING, pid=INTEGER, device=STRING, checkpoint_hash=NULLABLE_STRING,
            running_task=NULLABLE_STRING, heartbeat_age_seconds={"type": "number"},
            started_at={**STRING, "format": "date-time"},
        )},
        "queue": {**section(pending=INTEGER, running=INTEGER), "nullable": True},
    },
})
document_view(HealthView, get=operation(
    "health", "Health of the installation (D42); no token needed",
    responses={200: OpenApiResponse(HEALTH, description="Database reachable"),
               503: OpenApiResponse(HEALTH, description="Database unreachable")},
))
