"""The server's access log without secrets: the value of every `token` query parameter is written as `[REDACTED]`,
however it is spelled, and so is the configured API token wherever else the request target holds it."""

import logging
import re
from urllib.parse import quote, quote_plus, unquote_plus

from django.conf import settings

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[REDACTED]"
FIELD_SEPARATORS = re.compile(r"([&;])")  # `;` too: some servers and clients split on it


def decoded(text: str) -> str:
    """`text` percent-decoded until nothing changes (`token%253D...` is `token=...` decoded twice)."""
    for _ in range(5):
        plain = unquote_plus(text)
        if plain == text:
            break
        text = plain
    return text


def is_token_key(name: str) -> bool:
    return name.strip().lower() == "token"


def redact_field(field: str) -> str:
    """One `name=value` field of a query string, its value redacted when its decoded name is `token` in any case
    (`TOKEN=`, `%74oken=`, and `token%3D...`, whose `=` is encoded)."""
    name, equals, _ = decoded(field).partition("=")
    if not equals or not is_token_key(name):
        return field
    raw_name, raw_equals, _ = field.partition("=")
    return f"{raw_name if raw_equals and is_token_key(decoded(raw_name)) else name.strip()}={REDACTED}"


def redact(uri: str, secret: str | None = None) -> str:
    """`uri` with the value of every `token` query parameter replaced, and `secret` (the API token) wherever it
    appears, as sent or percent-encoded."""
    path, mark, query = uri.partition("?")
    if mark:
        parts = FIELD_SEPARATORS.split(query)
        parts[::2] = [redact_field(field) for field in parts[::2]]
        uri = f"{path}?{''.join(parts)}"
    if secret:
        for spelling in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret), quote(secret))):
            uri = uri.replace(spelling, REDACTED)
    return uri


class RedactToken(logging.Filter):
    """uvicorn's access records carry (client, method, path with query, HTTP version, status) as arguments."""

    def filter(self, record):
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            secret = settings.SDHOST["API_TOKEN"]
            record.args = (*record.args[:2], redact(record.args[2], secret), *record.args[3:])
        return True


def redact_access_log() -> None:
    """Install the filter (after uvicorn has configured its loggers)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactToken) for f in logger.filters):
        logger.addFilter(RedactToken())
