"""Access control (D14) and JSON errors for everything under /api."""

import hmac

from django.conf import settings
from django.urls import Resolver404, resolve

from .errors import APIError, error_response, to_api_error
from .sse import is_event_stream_view

OPEN_PATHS = {"/api/health"}  # D42: load balancers probe it without the token; it shows no secrets


def is_api(request):
    return request.path == "/api" or request.path.startswith("/api/")


def is_sse(request):
    """Whether the request is a GET of a view marked with `core.sse.event_stream`."""
    if request.method != "GET":
        return False
    try:
        return is_event_stream_view(resolve(request.path_info).func)
    except Resolver404:
        return False


class ApiTokenMiddleware:
    """With SDHOST_API_TOKEN set, every /api request needs `Authorization: Bearer <token>`.

    SSE endpoints (EventSource cannot set headers) may pass it as `?token=` instead.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = settings.SDHOST["API_TOKEN"]
        if token and is_api(request) and request.path not in OPEN_PATHS and not self.authorized(request, token):
            return error_response(APIError(401, "unauthorized", "A valid API token is required (Authorization: Bearer <token>)"))
        return self.get_response(request)

    @staticmethod
    def authorized(request, token):
        header = request.headers.get("Authorization", "")
        sent = header[7:].strip() if header.lower().startswith("bearer ") else None
        if sent is None and is_sse(request):
            sent = request.GET.get("token")
        return sent is not None and hmac.compare_digest(sent.encode(), token.encode())


class ApiErrorMiddleware:
    """Turns Django's own 404/405/500 answers under /api into JSON:API error documents."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_api(request) and response.status_code >= 400 and not self.is_json(response):
            if response.status_code == 404:
                return error_response(APIError(404, "not_found", f"No route for {request.method} {request.path}"))
            if response.status_code == 405:
                return error_response(APIError(405, "method_not_allowed", f"Method {request.method} not allowed on {request.path}"))
            if response.status_code == 413:
                return error_response(APIError(413, "payload_too_large", "Request body exceeds the configured limit"))
            if response.status_code == 400:
                return error_response(APIError(400, "invalid_request", "Bad request"))
            if response.status_code >= 500:
                return error_response(APIError(500, "internal_error", "Unexpected failure; see the server log"))
        return response

    def process_exception(self, request, exception):
        if is_api(request):
            return error_response(to_api_error(exception))
        return None

    @staticmethod
    def is_json(response):
        return response.get("Content-Type", "").startswith(("application/json", "text/event-stream")) or getattr(response, "streaming", False)
