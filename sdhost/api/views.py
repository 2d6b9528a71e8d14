"""GET /api (the index), GET /api/version and GET /api/config (D15): facts about the whole installation,
so they live in the composition root; and the view serving the OpenAPI schema."""

import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

import sdhost
from engine.a1111.names import SAMPLER_NAMES, UPSCALER_NAMES
from engine.parameters import RENDER_PARAMETERS, ui_description
from tasks_app.api.validation import resolve
from tasks_app.worker import worker_is_running

from .hardware import hardware_facts


@lru_cache(maxsize=1)
def git_facts():
    """(commit, commit date) of the source tree, or (None, None) outside a git checkout."""
    root = Path(settings.BASE_DIR)
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%H %cI"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.split()
        from datetime import datetime, timezone

        when = datetime.fromisoformat(out[1]).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return out[0], when
    except Exception:
        return None, None


COLLECTIONS = ("models", "images", "tasks", "tags")


class IndexView(APIView):
    def get(self, request):
        return Response({
            "api_version": sdhost.API_VERSION,
            "system_version": sdhost.__version__,
            "links": {
                **{name: f"/api/{name}" for name in COLLECTIONS},
                "queue": "/api/tasks/queue", "version": "/api/version", "config": "/api/config",
                "schema": "/api/schema", "docs": "/api/docs",
            },
        })


class SchemaNegotiation(DefaultContentNegotiation):
    """Accept header negotiation, with `?format=json|yaml` taking precedence."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return super().select_renderer(request, renderers, format_suffix or request.query_params.get("format"))


class DocsView(SpectacularSwaggerView):
    """The Swagger UI page. OPTIONS states the methods: DRF's answer would be rendered by the page's HTML
    template renderer, which has no template for it (a 500)."""

    def options(self, request, *args, **kwargs):
        return HttpResponse(status=200, headers={"Allow": "GET, HEAD, OPTIONS"})


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: YAML by default; JSON for `?format=json` or `Accept: application/json`."""

    content_negotiation_class = SchemaNegotiation


class VersionView(APIView):
    def get(self, request):
        import torch

        commit, build_date = git_facts()
        return Response({
            "api_version": sdhost.API_VERSION,
            "system_version": sdhost.__version__,
            "build_date": build_date,
            "git_commit": commit,
            "python_version": platform.python_version(),
            "pytorch_version": torch.__version__.split("+")[0],
            "cuda_version": torch.version.cuda,
            "platform": f"{sys.platform}-{platform.machine()}",
        })


class ConfigView(APIView):
    def get(self, request):
        cfg = settings.SDHOST
        return Response({
            "server": {"host": cfg["HOST"], "port": cfg["PORT"], "workers": 1},
            "storage": {
                "models_path": str(cfg["MODELS_PATH"]),
                "images_path": str(cfg["IMAGES_PATH"]),
                "cache_path": str(cfg["CACHE_PATH"]),
            },
            "generation": {
                "default_steps": cfg["DEFAULT_STEPS"],
                "default_cfg_scale": cfg["DEFAULT_CFG_SCALE"],
                "max_batch_size": cfg["MAX_BATCH_SIZE"],
                "max_image_size": cfg["MAX_IMAGE_SIDE"],
                "safety_checker": cfg["SAFETY_CHECKER"],
                "samplers": list(SAMPLER_NAMES),
                "upscalers": list(UPSCALER_NAMES),  # built in; upscaler models are given by hash (D37)
                # the render parameters, their limits and UI hints (engine/parameters.py): the web UI's composer
                "parameters": [ui_description(parameter, resolve) for parameter in RENDER_PARAMETERS],
                # live previews of running tasks (GET /api/tasks/{id}/preview, docs/queue.md#live-previews)
                "previews": {"method": cfg["PREVIEW"], "every_steps": cfg["PREVIEW_EVERY"]},
            },
            "hardware": hardware_facts(cfg["DEVICE"]),
            "features": {
                "civitai_enabled": cfg["CIVITAI_ENABLED"],
                "auto_download": cfg["AUTO_DOWNLOAD"],
                "queue_enabled": worker_is_running(),
            },
        })
