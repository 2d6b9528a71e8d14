"""Content negotiation: JSON bodies under either of the two media types the API speaks (docs/input.md, "Media types").

Every JSON answer is the same document; its `Content-Type` is `application/vnd.api+json` when the client's `Accept`
asks for the JSON:API media type (at least as much as for `application/json`), else `application/json` as the spec
documents (core.middleware.MediaTypeMiddleware applies this to every answer under /api, errors included).

JSON:API's rules on media type parameters, as JSON:API 1.1 words them (1.0 refused every parameter): `profile` is
allowed and ignored (a server may ignore profiles); `ext` names extensions, of which this server implements none, so
it is refused like any other parameter: an `Accept` whose every JSON:API media type carries one is 406, a request
`Content-Type` carrying one is 415.
"""

from functools import lru_cache

from django.http.request import MediaType
from rest_framework.negotiation import DefaultContentNegotiation

from .errors import APIError

JSON = "application/json"
JSONAPI = "application/vnd.api+json"
IGNORED_PARAMETERS = frozenset({"profile"})


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """Every API view renders JSON (or a file) whatever the `Accept` header: the JSON:API media type is the same
    document under another name, set by core.middleware.MediaTypeMiddleware, which also answers the 406s."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)


def media_types(header):
    """The media ranges of an `Accept` header, those with q=0 (not acceptable) left out."""
    ranges = (MediaType(part.strip()) for part in (header or "").split(",") if part.strip())
    return [media for media in ranges if media.quality > 0]


def is_jsonapi(media):
    return f"{media.main_type}/{media.sub_type}".lower() == JSONAPI


def unsupported_parameters(media):
    """The media type parameters of a JSON:API media type that this server does not support (q aside)."""
    return sorted(set(media.range_params) - IGNORED_PARAMETERS)


@lru_cache(maxsize=256)
def refused_accept_parameters(accept):
    """The parameters named when `accept` names the JSON:API media type only with unsupported ones, else None.
    Cached per process: clients send the same few `Accept` headers on every request."""
    instances = [media for media in media_types(accept) if is_jsonapi(media)]
    if instances and all(unsupported_parameters(media) for media in instances):
        return ", ".join(sorted({p for media in instances for p in unsupported_parameters(media)}))
    return None


def accept_refusal(accept):
    """406 when `accept` names the JSON:API media type only with parameters this server does not support."""
    if named := refused_accept_parameters(accept):
        return APIError(406, "not_acceptable",
                        f"Accept names {JSONAPI} only with media type parameters ({named}), which JSON:API refuses "
                        f"(only `profile` is allowed; this server implements no extension): accept {JSONAPI} "
                        f"without parameters, or {JSON}")
    return None


def content_type_refusal(content_type):
    """415 for a request body sent as the JSON:API media type with parameters this server does not support."""
    if not content_type:
        return None
    media = MediaType(content_type)
    if is_jsonapi(media) and (named := unsupported_parameters(media)):
        return APIError(415, "unsupported_media_type",
                        f"Content-Type {JSONAPI} with media type parameters ({', '.join(named)}) is refused by "
                        f"JSON:API (only `profile` is allowed; this server implements no extension): send {JSONAPI} "
                        f"without parameters, or {JSON}")
    return None


@lru_cache(maxsize=256)
def answers_jsonapi(accept) -> bool:
    """Whether the answer to `accept` is labelled application/vnd.api+json rather than application/json (cached per
    process, as refused_accept_parameters)."""
    ranges = media_types(accept)
    jsonapi = max((m.quality for m in ranges if is_jsonapi(m) and not unsupported_parameters(m)), default=0)
    json = max((m.quality for m in ranges if f"{m.main_type}/{m.sub_type}".lower() == JSON), default=0)
    return jsonapi > 0 and jsonapi >= json
