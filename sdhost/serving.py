"""The HTTP server: uvicorn running `sdhost.asgi:application` (docs/architecture.md says why uvicorn).

uvicorn has flow control both ways: a response `send` waits while the socket's write buffer is
full, and the request body is read only as fast as the application consumes it. A download
therefore holds one file block per connection, whatever the client's speed, and an upload
reaches Django's spooled body file (disk beyond FILE_UPLOAD_MAX_MEMORY_SIZE) at the rate it is written.
"""

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

from a1111_app.errors import A1111Error
from core.downloads import FileDownload
from core.errors import APIError, error_response
from core.middleware import A1111_PREFIXES
from sdhost.access_log import redact_access_log


def request_body_limit() -> int:
    """The largest request body any view accepts: an image upload with its multipart framing (D25)."""
    return settings.SDHOST["MAX_UPLOAD_BYTES"] + 64 * 1024


class BodyTooLarge(APIError):
    def __init__(self, limit):
        super().__init__(413, "payload_too_large", f"The request body exceeds the limit of {limit} bytes")


class SDHostASGIHandler(ASGIHandler):
    """Django's ASGI handler, sending a file response's blocks whole and refusing oversized bodies early.

    Django slices every streamed part into 64 KiB messages: a copy and a trip through the server's
    send for each slice, about a quarter of a download's CPU time. One message per file block
    keeps one copy, and the memory a connection holds is still one block.
    """

    chunk_size = FileDownload.read_size

    async def handle(self, scope, receive, send):
        """Django's handling, but a body over `request_body_limit()` is answered 413 before it is stored.

        Django spools every request body (to disk beyond FILE_UPLOAD_MAX_MEMORY_SIZE) before a view
        can look at it: a declared length over the limit is refused unread, a chunked body once it
        passes the limit.
        """
        limit = request_body_limit()
        declared = dict(scope["headers"]).get(b"content-length", b"")
        try:
            if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
                raise BodyTooLarge(limit)
            await super().handle(scope, receive, send)
        except BodyTooLarge as exc:  # raised before the response started
            if scope.get("path", "").startswith(A1111_PREFIXES):  # A1111's clients read its error shape
                response = A1111Error(413, exc.detail, "PayloadTooLarge").response()
            else:
                response = error_response(exc)
            response["Content-Length"] = str(len(response.content))
            response["Connection"] = "close"  # the rest of the body is not read
            await self.send_response(response, send)

    async def read_body(self, receive):
        limit, received = request_body_limit(), 0

        async def receive_within_limit():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        return await super().read_body(receive_within_limit)


def server_config(app, **options):
    """A uvicorn configuration for `app` (an ASGI application or "module:attribute")."""
    import uvicorn

    options = {
        "lifespan": "off",  # Channels' ProtocolTypeRouter has no lifespan route; nothing runs at startup
        "loop": "asyncio",
        "ws": "none",  # no WebSocket routes
        "timeout_graceful_shutdown": 5,  # open SSE streams never end by themselves
        **options,
    }
    return uvicorn.Config(app, **options)


def serve(host: str, port: int) -> None:
    """Serve SD-Host on host:port until interrupted (SIGINT/SIGTERM)."""
    import uvicorn

    config = server_config("sdhost.asgi:application", host=host, port=port)  # configures uvicorn's loggers
    redact_access_log()
    uvicorn.Server(config).run()
