"""The HTTP server: uvicorn running `sdhost.asgi:application` (docs/architecture.md says why uvicorn).

uvicorn has flow control both ways: a response `send` waits while the socket's write buffer is
full, and the request body is read only as fast as the application consumes it. A download
therefore holds one file block per connection, whatever the client's speed, and an upload
reaches Django's spooled body file (disk beyond FILE_UPLOAD_MAX_MEMORY_SIZE) at the rate it is written.
"""

import contextvars
from concurrent.futures import Executor, ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

from a1111_app.errors import A1111Error
from core.downloads import FileDownload
from core.errors import APIError, error_response
from core.middleware import is_a1111_path
from core.sse import EventStreamResponse, end_streams
from sdhost.access_log import redact_access_log


def request_body_limit() -> int:
    """The largest request body any view accepts: an image upload with its multipart framing (D25)."""
    return settings.SDHOST["MAX_UPLOAD_BYTES"] + 64 * 1024


class BodyTooLarge(APIError):
    def __init__(self, limit):
        super().__init__(413, "payload_too_large", f"The request body exceeds the limit of {limit} bytes")


class RequestThread(Executor):
    """The thread a request's synchronous code runs in (middleware, view, ORM): started on first use, and
    given back by `release()`.

    Django runs each request's thread-sensitive calls in a thread of its own, which stays until the response
    has been sent: for a live stream (hours, idle), a thread per open stream. A stream's handler releases it
    once the view has answered (`SDHostASGIHandler.send_response`); what the request still runs after that
    (closing the response: Django's request_finished) goes to one thread shared by all released requests, so
    that a thousand streams closing at once do not start a thousand threads.
    """

    def __init__(self):
        self.pool = None
        self.released = False

    def submit(self, fn, /, *args, **kwargs):
        if self.released:
            return released_requests.submit(fn, *args, **kwargs)
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        return self.pool.submit(fn, *args, **kwargs)

    def release(self) -> None:
        """Let the thread end (it is idle: the request waits on nothing it runs)."""
        self.released = True
        if self.pool is not None:
            self.pool.shutdown(wait=False)
            self.pool = None

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.release()


released_requests = ThreadPoolExecutor(max_workers=1, thread_name_prefix="released-request")
request_thread: contextvars.ContextVar[RequestThread] = contextvars.ContextVar("request_thread")


class SDHostASGIHandler(ASGIHandler):
    """Django's ASGI handler, sending a file response's blocks whole and refusing oversized bodies early.

    Django slices every streamed part into 64 KiB messages: a copy and a trip through the server's
    send for each slice, about a quarter of a download's CPU time. One message per file block
    keeps one copy, and the memory a connection holds is still one block.
    """

    chunk_size = FileDownload.read_size

    async def __call__(self, scope, receive, send):
        """Django's, with the request's thread a `RequestThread` (Django makes one it cannot give back early)."""
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # refused there
        thread = RequestThread()
        token = request_thread.set(thread)
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            request_thread.reset(token)
            thread.release()

    async def send_response(self, response, send):
        """A live stream first closes the database connections its request opened and gives its thread back:
        it holds neither while it waits for events (its reads take a pooled thread each: core/sse.py)."""
        if isinstance(response, EventStreamResponse):
            await sync_to_async(connections.close_all)()  # in the request's thread, where they were opened
            thread = request_thread.get(None)
            if thread is not None:
                thread.release()
        await super().send_response(response, send)

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
            if is_a1111_path(scope.get("path", "")):  # A1111's clients read its error shape
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
        "timeout_graceful_shutdown": 5,  # a response still running after the streams ended (Server.shutdown)
        **options,
    }
    return uvicorn.Config(app, **options)


def server_class():
    """uvicorn's Server, ending the live streams first when it shuts down.

    An open stream (the web UI keeps the queue stream open) never ends by itself: uvicorn waited
    `timeout_graceful_shutdown` for it, then cancelled it with an ERROR and tracebacks. The streams are told to
    end before uvicorn closes its connections, so each sends its last chunk and the server stops at once."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None):
            end_streams()
            await super().shutdown(sockets=sockets)

    return Server


def serve(host: str, port: int) -> None:
    """Serve SD-Host on host:port until interrupted (SIGINT/SIGTERM)."""
    config = server_config("sdhost.asgi:application", host=host, port=port)  # configures uvicorn's loggers
    redact_access_log()
    try:
        server_class()(config).run()
    except KeyboardInterrupt:  # uvicorn raises Ctrl+C again once it has shut down: the stop asked for, not an error
        pass
