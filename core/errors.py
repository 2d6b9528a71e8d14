"""JSON:API error documents (D13) and the DRF exception handler that produces them."""

import errno
import logging

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.db import OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions

from core.writes import RETRY_AFTER_SECONDS, is_database_busy

TITLES = {
    "invalid_filter": "Invalid Filter Parameter",
    "unsupported_operation": "Unsupported Operation",
    "invalid_tag_filter": "Invalid Tag Filter",
    "invalid_parameter": "Invalid Parameter",
    "invalid_request": "Invalid Request",
    "invalid_host": "Invalid Host",
    "unauthorized": "Unauthorized",
    "cross_origin_refused": "Cross-Origin Request Refused",
    "not_found": "Not Found",
    "conflict": "Conflict",
    "not_acceptable": "Not Acceptable",
    "method_not_allowed": "Method Not Allowed",
    "model_not_ready": "Model Not Ready",
    "model_in_use": "Model In Use",
    "image_in_use": "Image In Use",
    "feature_disabled": "Feature Disabled",
    "payload_too_large": "Payload Too Large",
    "unsupported_media_type": "Unsupported Media Type",
    "range_not_satisfiable": "Range Not Satisfiable",
    "catalogue_unavailable": "Catalogue Unavailable",
    "insufficient_storage": "Insufficient Storage",
    "database_busy": "Database Busy",
    "internal_error": "Internal Server Error",
}


class APIError(Exception):
    """An error answered as a JSON:API error document.

    Raise it anywhere below a view; `parameter` names a query/path parameter, `pointer`
    a JSON Pointer into the body.
    """

    def __init__(self, status, code, detail, *, parameter=None, pointer=None, title=None, headers=None):
        super().__init__(detail)
        self.headers = headers or {}  # response headers (Retry-After)
        self.status = int(status)
        self.code = code
        self.detail = detail
        self.parameter = parameter
        self.pointer = pointer
        self.title = title or TITLES.get(code, code.replace("_", " ").title())

    def as_dict(self):
        error = {"status": str(self.status), "code": self.code, "title": self.title, "detail": self.detail}
        if self.parameter is not None:
            error["source"] = {"parameter": self.parameter}
        elif self.pointer is not None:
            error["source"] = {"pointer": self.pointer}
        return error


def a1111_error_response(status: int, detail: str, error: str = "HTTPException") -> JsonResponse:
    """An error in the shape of A1111's own exception handler (a1111_app/errors.py: A1111Error)."""
    return JsonResponse({"error": error, "detail": detail, "body": "", "errors": ""}, status=status)


def json_pointer(*parts) -> str:
    """A JSON Pointer (RFC 6901) to `parts`, e.g. ('a/b', 0) -> '/a~1b/0'."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def invalid_request(detail, pointer=None):
    return APIError(400, "invalid_request", detail, pointer=pointer)


def not_found(detail="Resource not found", parameter=None):
    return APIError(404, "not_found", detail, parameter=parameter)


def error_response(*errors):
    """A JsonResponse holding one or more APIErrors (all share the first one's status)."""
    response = JsonResponse({"errors": [e.as_dict() for e in errors]}, status=errors[0].status)
    for header, value in errors[0].headers.items():
        response[header] = value
    return response


def unsupported_media_type(exc):
    return APIError(415, "unsupported_media_type", f"{exc.detail} Send application/json or application/vnd.api+json")


def exception_handler(exc, context):
    """DRF hook: every exception leaves as a JSON:API error document, never HTML."""
    return error_response(to_api_error(exc))


DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
DISK_FULL_SQLSTATE = "53100"  # PostgreSQL disk_full


def is_disk_full(exc) -> bool:
    """Whether `exc` says the disk (or quota) is full: an OSError, or the database failing to grow."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL_ERRNOS
    if isinstance(exc, OperationalError):
        cause = exc.__cause__
        return "database or disk is full" in str(exc) or getattr(cause, "sqlstate", None) == DISK_FULL_SQLSTATE
    return False


def insufficient_storage():
    return APIError(
        507, "insufficient_storage",
        "The server's disk is full; nothing was stored. Free space (for example delete images or models) and retry.",
    )


def database_busy(exc):
    """503 with Retry-After: the database refused a connection or kept aborting the write (core/writes.py)."""
    logging.getLogger("sdhost").warning("Database busy: %s", exc)
    return APIError(503, "database_busy", "The database is busy (too many connections or conflicting writes); "
                    "nothing was changed. Retry shortly.", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def to_api_error(exc):
    if isinstance(exc, APIError):
        return exc
    if is_database_busy(exc):
        return database_busy(exc)
    if is_disk_full(exc):
        logging.getLogger("sdhost").error("Disk full: %s", exc)
        return insufficient_storage()
    if isinstance(exc, RequestDataTooBig):
        return APIError(413, "payload_too_large", "Request body exceeds the configured limit")
    if isinstance(exc, Http404) or isinstance(exc, drf_exceptions.NotFound):
        return not_found(str(exc) or "Resource not found")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return APIError(405, "method_not_allowed", str(exc.detail))
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return unsupported_media_type(exc)
    if isinstance(exc, drf_exceptions.ParseError):
        return invalid_request(f"Request body is not valid JSON: {exc.detail}")
    if isinstance(exc, (SuspiciousOperation, BadRequest)):  # e.g. too many query parameters
        return invalid_request(str(exc) or "Bad request")
    if isinstance(exc, drf_exceptions.ValidationError):
        return invalid_request(str(exc.detail))
    if isinstance(exc, drf_exceptions.AuthenticationFailed | drf_exceptions.NotAuthenticated):
        return APIError(401, "unauthorized", str(exc.detail))
    if isinstance(exc, drf_exceptions.APIException):
        return APIError(exc.status_code, getattr(exc, "default_code", "error"), str(exc.detail))
    logging.getLogger("sdhost").exception("Unexpected error")
    return APIError(500, "internal_error", "Unexpected failure; see the server log")
