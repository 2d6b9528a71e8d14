"""The HTTP server: uvicorn running `sdhost.asgi:application` (docs/architecture.md says why uvicorn).

uvicorn has flow control both ways: a response `send` waits while the socket's write buffer is
full, and the request body is read only as fast as the application consumes it. A download
therefore holds one file block per connection, whatever the client's speed, and an upload
reaches Django's spooled body file (disk beyond FILE_UPLOAD_MAX_MEMORY_SIZE) at the rate it is written.
"""

from django.core.handlers.asgi import ASGIHandler

from sdhost.downloads import FileDownload


class SDHostASGIHandler(ASGIHandler):
    """Django's ASGI handler sending a file response's blocks whole.

    Django slices every streamed part into 64 KiB messages: a copy and a trip through the server's
    send for each slice, about a quarter of a download's CPU time. One message per file block
    keeps one copy, and the memory a connection holds is still one block.
    """

    chunk_size = FileDownload.read_size


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

    uvicorn.Server(server_config("sdhost.asgi:application", host=host, port=port)).run()
