"""The server's access log without secrets: a `?token=` query value is written as `[REDACTED]`."""

import logging
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"


def redact(uri: str) -> str:
    """`uri` with the value of every `token` query parameter (however percent-encoded) replaced."""
    path, mark, query = uri.partition("?")
    if not mark:
        return uri
    fields = []
    for field in query.split("&"):
        name, equals, _ = field.partition("=")
        fields.append(f"{name}=[REDACTED]" if equals and unquote_plus(name) == "token" else field)
    return f"{path}?{'&'.join(fields)}"


class RedactToken(logging.Filter):
    """uvicorn's access records carry (client, method, path with query, HTTP version, status) as arguments."""

    def filter(self, record):
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], redact(record.args[2]), *record.args[3:])
        return True


def redact_access_log() -> None:
    """Install the filter (after uvicorn has configured its loggers)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactToken) for f in logger.filters):
        logger.addFilter(RedactToken())
