"""Request body rules shared by the write endpoints: size limits and the JSON object they must carry."""

from django.conf import settings

from .errors import APIError, invalid_request


def check_body_size(request, limit=None):
    """413 payload_too_large when the declared body length exceeds `limit` (default: Django's body limit)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit is None else limit
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise invalid_request("Content-Length is not a number") from None
    if limit is not None and length > limit:
        raise APIError(413, "payload_too_large", f"Request body of {length} bytes exceeds the limit of {limit} bytes")


def json_object(request) -> dict:
    """The request's JSON body, which must be an object (400 invalid_request otherwise)."""
    check_body_size(request)
    if request.stream is None:
        raise invalid_request("Request body is empty: send a JSON object")
    data = request.data
    if not isinstance(data, dict):
        raise invalid_request("Request body must be a JSON object")
    return data
