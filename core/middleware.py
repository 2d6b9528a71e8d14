"""Access control (D14, D39): allowed hosts, cross-origin writes (CSRF), the API token; and JSON errors for everything
under /api."""

import base64
import binascii
import hmac
import ipaddress
from http import HTTPStatus
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers

from .errors import APIError, a1111_error_response, error_response, to_api_error
from .negotiation import JSON, JSONAPI, accept_refusal, answers_jsonapi, content_type_refusal
from .sse import is_event_stream_view

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
DEFAULT_PORTS = {"http": 80, "https": 443}
OPEN_PATHS = {"/api/health"}  # D42: load balancers probe it without the token; it shows no secrets
A1111_PREFIXES = ("/sdapi/", "/controlnet/")  # D39: A1111 clients send the token as Bearer or as the Basic password
A1111_ROOTS = ("/sdapi", "/controlnet")  # the prefixes themselves, without their slash


def is_api(request):
    return request.path == "/api" or request.path.startswith("/api/")


def is_a1111_path(path: str) -> bool:
    """/sdapi and /controlnet and everything below them: the A1111 layer, answered in A1111's JSON shapes."""
    return path.startswith(A1111_PREFIXES) or path in A1111_ROOTS


def is_a1111(request):
    return is_a1111_path(request.path)


def is_any_api(request):
    """/api, or the A1111-compatible /sdapi and /controlnet: the cookie-less APIs."""
    return is_api(request) or is_a1111(request)


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


def host_refusal(request):
    """The 400 for a Host header outside ALLOWED_HOSTS (DNS rebinding), or None when the host is served.

    Under /api the answer is a JSON:API error document, elsewhere a plain-text 400.
    """
    try:
        request.get_host()
    except DisallowedHost:
        detail = "The Host header does not name this server; add the name to SDHOST_ALLOWED_HOSTS to serve it"
        if is_api(request):
            return error_response(APIError(400, "invalid_host", detail))
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
    return None


class AllowedHostMiddleware:
    """Refuses a Host header outside ALLOWED_HOSTS (DNS rebinding) before anything else runs (`host_refusal`).
    Static files, served before the middleware (sdhost/static.py), ask `host_refusal` too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return host_refusal(request) or self.get_response(request)


def authority(host: str, port: int | None):
    """(host, port) compared case-insensitively, IPv6 literals without brackets and in their canonical form."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return host, port


def origin_authority(origin: str):
    """The (host, port) of an Origin header, its scheme's default port when it names none; None for `null`
    (sandboxed pages, file://) or anything that is not an http(s) origin."""
    try:
        url = urlsplit(origin)
        port = url.port
    except ValueError:
        return None
    if url.scheme not in DEFAULT_PORTS or not url.hostname or url.path or url.query or url.username:
        return None
    return authority(url.hostname, port or DEFAULT_PORTS[url.scheme])


def is_this_server(request, origin: str) -> bool:
    """Whether `origin` is the server the request was sent to: the Host header's name and port. A Host without a
    port matches the origin's default port, so that a TLS-terminating proxy (https outside, http inside) that
    forwards the Host header keeps the web UI working; the scheme is not compared (one port speaks one)."""
    sent = origin_authority(origin)
    try:
        url = urlsplit(f"//{request.get_host()}")
        host, port = url.hostname, url.port
    except ValueError:
        return False
    if sent is None or not host:
        return False
    if port is None and sent[1] in DEFAULT_PORTS.values():
        port = sent[1]
    return authority(host, port) == sent


def cors_allows(origin: str) -> bool:
    """Whether SDHOST_CORS_ORIGINS lets `origin` use the API, as django-cors-headers decides it."""
    if settings.CORS_ALLOW_ALL_ORIGINS:
        return True
    if origin == "null":
        return "null" in settings.CORS_ALLOWED_ORIGINS
    try:
        url = urlsplit(origin)
    except ValueError:
        return False
    return any((allowed.scheme, allowed.netloc) == (url.scheme.lower(), url.netloc.lower())
               for allowed in (urlsplit(o.lower()) for o in settings.CORS_ALLOWED_ORIGINS))


def cross_origin_refusal(request):
    """Why a state-changing request must be refused as one sent by another site's page (CSRF), or None.

    The browser names the page's origin in `Origin` (always on a POST, PUT, PATCH or DELETE it sends from a
    page; `null` for sandboxed and file:// pages): it must be this server or an origin of SDHOST_CORS_ORIGINS.
    Without `Origin`, `Sec-Fetch-Site: cross-site` or `same-site` (another origin of the same site) also
    marks a page's request. A request with neither header comes from a program (curl, Python): allowed.
    """
    origin = request.headers.get("Origin")
    if origin is not None:
        if is_this_server(request, origin) or cors_allows(origin):
            return None
        return f"Origin {origin} is neither this server nor an origin listed in SDHOST_CORS_ORIGINS"
    fetch_site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if fetch_site in {"cross-site", "same-site"}:
        return f"The request comes from another site's page (Sec-Fetch-Site: {fetch_site}) and names no allowed Origin"
    return None


class CrossOriginWriteMiddleware:
    """Refuses a state-changing request (not GET, HEAD, OPTIONS, TRACE) under /api, /sdapi and /controlnet sent by
    a page of another origin (`cross_origin_refusal`): 403, a JSON:API error `cross_origin_refused` under /api,
    A1111's error shape under /sdapi and /controlnet. The APIs use no cookies, so this is their CSRF protection;
    Django's CsrfViewMiddleware (cookie and token) guards the rest (the admin): sdhost/middleware.py."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in SAFE_METHODS and is_any_api(request):
            reason = cross_origin_refusal(request)
            if reason:
                detail = f"Cross-origin write refused: {reason}"
                if is_a1111(request):
                    return a1111_error_response(403, detail)
                return error_response(APIError(403, "cross_origin_refused", detail))
        return self.get_response(request)


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
        guarded = is_any_api(request) and request.path not in OPEN_PATHS
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
    400) into a JSON:API error document with the same headers (`Allow`...); under /sdapi and /controlnet into
    A1111's shapes (FastAPI's `{"detail": "Not Found"}`, A1111's `{"error", "detail", ...}`). First in
    MIDDLEWARE, so it sees them all."""

    CODES = {400: "invalid_request"}  # others: the status phrase as a code, e.g. 403 "forbidden"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code >= 400 and not self.is_json(response) and is_any_api(request):
            if is_a1111(request):
                converted = self.a1111_error(request, response.status_code)
            else:
                converted = error_response(self.api_error(request, response.status_code))
            for header, value in response.items():  # Allow, and the security middleware's headers
                if header.lower() not in ("content-type", "content-length"):
                    converted[header] = value
            return converted
        return response

    @staticmethod
    def a1111_error(request, status):
        """FastAPI's answers to an unknown route or method, A1111's handler shape for the rest."""
        if status in (404, 405):
            return JsonResponse({"detail": HTTPStatus(status).phrase}, status=status)
        if status >= 500:
            return a1111_error_response(status, "Unexpected failure; see the server log", "InternalServerError")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return a1111_error_response(status, f"{phrase} ({request.method} {request.path})")

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


class MediaTypeMiddleware:
    """JSON:API's media type rules under /api (core/negotiation.py): 415 for a body sent as application/vnd.api+json
    with parameters, 406 for an `Accept` naming that media type only with parameters, and every JSON answer labelled
    application/vnd.api+json when `Accept` asks for it (`Vary: Accept`). Just inside CorsMiddleware, so that it sees
    every answer, the JSON errors of the other middleware included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api(request):
            return self.get_response(request)
        accept = request.headers.get("Accept", "")
        refusal = content_type_refusal(request.headers.get("Content-Type")) or accept_refusal(accept)
        response = error_response(refusal) if refusal else self.get_response(request)
        if response.get("Content-Type", "").split(";")[0].strip().lower() == JSON:
            patch_vary_headers(response, ("Accept",))
            if answers_jsonapi(accept):
                response["Content-Type"] = JSONAPI
        return response
