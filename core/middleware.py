"""Access control (D14, D39) and JSON errors for everything under /api."""

import base64
import binascii
import hmac
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import Resolver404, resolve

from .errors import APIError, error_response, to_api_error
from .sse import is_event_stream_view

OPEN_PATHS = {"/api/health"}  # D42: load balancers probe it without the token; it shows no secrets
A1111_PREFIXES = ("/sdapi/", "/controlnet/")  # D39: A1111 clients send the token as Bearer or as the Basic password


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


def is_cors_preflight(request):
    """A browser's CORS preflight: it never carries credentials, so the token cannot be asked of it."""
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


class AllowedHostMiddleware:
    """Refuses a Host header outside ALLOWED_HOSTS (DNS rebinding) before anything else runs.

    Under /api the answer is a JSON:API error document, elsewhere a plain-text 400.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.get_host()
        except DisallowedHost:
            detail = "The Host header does not name this server; add the name to SDHOST_ALLOWED_HOSTS to serve it"
            if is_api(request):
                return error_response(APIError(400, "invalid_host", detail))
            return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def is_a1111(request):
    return request.path.startswith(A1111_PREFIXES)


def basic_password(header: str):
    """The password of an `Authorization: Basic` header (any user name), or None."""
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return password if colon else None


class ApiTokenMiddleware:
    """With SDHOST_API_TOKEN set, every /api request needs `Authorization: Bearer <token>`.

    SSE endpoints (EventSource cannot set headers) may pass it as `?token=` instead. Under /sdapi (the A1111
    API, D39) the token may also be the HTTP Basic password, and a refusal is FastAPI's, as A1111 answers it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = settings.SDHOST["API_TOKEN"]
        guarded = (is_api(request) and request.path not in OPEN_PATHS) or is_a1111(request)
        if token and guarded and not is_cors_preflight(request) and not self.authorized(request, token):
            if is_a1111(request):
                return JsonResponse({"detail": "Incorrect username or password"}, status=401,
                                    headers={"WWW-Authenticate": "Basic"})
            return error_response(APIError(401, "unauthorized", "A valid API token is required (Authorization: Bearer <token>)"))
        return self.get_response(request)

    @staticmethod
    def authorized(request, token):
        header = request.headers.get("Authorization", "")
        sent = header[7:].strip() if header.lower().startswith("bearer ") else None
        if sent is None and is_a1111(request):
            sent = basic_password(header)
        if sent is None and is_sse(request):
            sent = request.GET.get("token")
        return sent is not None and hmac.compare_digest(sent.encode(), token.encode())


class ApiErrorMiddleware:
    """Turns every non-JSON error answer under /api (Django's own 404/405/500, the CSRF 403, a middleware's
    400) into a JSON:API error document with the same headers (`Allow`...). First in MIDDLEWARE, so it sees
    them all."""

    CODES = {400: "invalid_request"}  # others: the status phrase as a code, e.g. 403 "forbidden"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_api(request) and response.status_code >= 400 and not self.is_json(response):
            converted = error_response(self.api_error(request, response.status_code))
            for header, value in response.items():  # Allow, and the security middleware's headers
                if header.lower() not in ("content-type", "content-length"):
                    converted[header] = value
            return converted
        return response

    def api_error(self, request, status):
        if status >= 500:
            return APIError(500, "internal_error", "Unexpected failure; see the server log")
        if status == 404:
            return APIError(404, "not_found", f"No route for {request.method} {request.path}")
        if status == 405:
            return APIError(405, "method_not_allowed", f"Method {request.method} not allowed on {request.path}")
        if status == 413:
            return APIError(413, "payload_too_large", "Request body exceeds the configured limit")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        code = self.CODES.get(status) or phrase.lower().replace(" ", "_").replace("-", "_")
        return APIError(status, code, f"{phrase} ({request.method} {request.path})")

    def process_exception(self, request, exception):
        if is_api(request):
            return error_response(to_api_error(exception))
        return None

    @staticmethod
    def is_json(response):
        return response.get("Content-Type", "").startswith(("application/json", "text/event-stream")) or getattr(response, "streaming", False)
