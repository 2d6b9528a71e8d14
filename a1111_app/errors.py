"""Errors in A1111's shapes (its modules/api/api.py, FastAPI underneath).

Validation problems are FastAPI's 422 `{"detail": [{"loc", "msg", "type"}]}`; other errors A1111's own handler
shape `{"error", "detail", "body", "errors"}` with the HTTP status.
"""

from __future__ import annotations

import functools
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from core.errors import APIError, a1111_error_response, is_disk_full
from core.jsondata import digits_value
from core.writes import RETRY_AFTER_SECONDS, is_database_busy
from engine.parameters import A1111_OPTIONS, RENDER_PARAMETERS

log = logging.getLogger("sdhost")

# Our submission's fields (JSON pointers of tasks_app/api/validation.py) -> the A1111 field that set them: the render
# parameters' A1111 fields and options (engine/parameters.py), then the others
FIELD_NAMES = {
    **{p.name: [p.a1111.field] for p in RENDER_PARAMETERS if p.a1111.field and p.a1111.field != p.name},
    **{p.name: ["override_settings", option] for option, p in A1111_OPTIONS.items()},
    "checkpoint_hash": ["override_settings", "sd_model_checkpoint"], "vae_hash": ["override_settings", "sd_vae"],
    "init_image": ["init_images", 0], "mask_image": ["mask"], "hires": ["enable_hr"],
}
HIRES_FIELD_NAMES = {"scale": "hr_scale", "width": "hr_resize_x", "height": "hr_resize_y",
                     "steps": "hr_second_pass_steps", "denoising_strength": "denoising_strength",
                     "upscaler": "hr_upscaler"}


class A1111Error(Exception):
    """An error answered in A1111's general shape."""

    def __init__(self, status: int, detail: str, error: str = "HTTPException"):
        super().__init__(detail)
        self.status, self.detail, self.error = status, detail, error

    def response(self) -> JsonResponse:
        return a1111_error_response(self.status, self.detail, self.error)


class ValidationFailed(Exception):
    """A 422 with FastAPI's `detail` list."""

    def __init__(self, loc: list, msg: str, kind: str = "value_error"):
        super().__init__(msg)
        self.loc, self.msg, self.kind = loc, msg, kind

    def response(self) -> JsonResponse:
        return JsonResponse({"detail": [{"loc": ["body", *self.loc], "msg": self.msg, "type": self.kind}]},
                            status=422)


def a1111_location(pointer: str | None) -> list:
    """The A1111 request field behind one of our submission's JSON pointers."""
    if not pointer:
        return []
    parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.lstrip("/").split("/")]
    if parts[0] == "hires" and len(parts) > 1:
        return [HIRES_FIELD_NAMES.get(parts[1], parts[1])]
    if parts[0] == "additional_models":  # only ControlNet units fill it (inline LoRAs point at the prompt)
        rest = [part if digits_value(part) is None else digits_value(part) for part in parts[1:]]
        return ["alwayson_scripts", "ControlNet", "args", *rest[:1], *(["model"] if rest[1:] == ["model_hash"]
                                                                       else rest[1:])]
    return list(FIELD_NAMES.get(parts[0], [parts[0]]))


def from_api_error(error: APIError) -> Exception:
    """Our validation's 400 as A1111's 422 on the A1111 field; other statuses keep theirs."""
    if error.status == 400:
        return ValidationFailed(a1111_location(error.pointer), error.detail)
    return A1111Error(error.status, error.detail)


def not_found_response(request) -> JsonResponse:
    """FastAPI's answer to a path it has no route for."""
    return JsonResponse({"detail": "Not Found"}, status=404)


def a1111_errors(view):
    """Answer what a view raises in A1111's shapes, never an HTML page (sync and async views)."""
    def answer(exc):
        if isinstance(exc, A1111Error | ValidationFailed):
            return exc.response()
        if isinstance(exc, APIError):
            return from_api_error(exc).response()
        if isinstance(exc, RequestDataTooBig):
            return A1111Error(413, "Request body exceeds the configured limit (SDHOST_MAX_UPLOAD_BYTES)",
                              "PayloadTooLarge").response()
        if is_database_busy(exc):
            response = A1111Error(503, "The database is busy; nothing was changed. Retry shortly.",
                                  "ServiceUnavailable").response()
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        if is_disk_full(exc):
            return A1111Error(507, "The server's disk is full; nothing was stored", "InsufficientStorage").response()
        log.exception("Unexpected error in the A1111 API")
        return A1111Error(500, "Unexpected failure; see the server log", type(exc).__name__).response()

    if _is_async(view):
        @functools.wraps(view)
        async def wrapped_async(request, *args, **kwargs):
            try:
                return await view(request, *args, **kwargs)
            except Exception as exc:  # every error leaves in A1111's shape
                return answer(exc)
        return wrapped_async

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Exception as exc:  # every error leaves in A1111's shape
            return answer(exc)
    return wrapped


def _is_async(view) -> bool:
    from asgiref.sync import iscoroutinefunction

    return iscoroutinefunction(view)


def methods(*allowed):
    """Only the `allowed` HTTP methods; others get FastAPI's 405 (sync and async views)."""
    def decorate(view):
        def refused(request):
            response = JsonResponse({"detail": "Method Not Allowed"}, status=405)
            response["Allow"] = ", ".join(allowed)
            return response

        if _is_async(view):
            @functools.wraps(view)
            async def checked_async(request, *args, **kwargs):
                if request.method not in allowed:
                    return refused(request)
                return await view(request, *args, **kwargs)
            return checked_async

        @functools.wraps(view)
        def checked(request, *args, **kwargs):
            if request.method not in allowed:
                return refused(request)
            return view(request, *args, **kwargs)
        return checked
    return decorate
