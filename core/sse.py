"""Server-Sent Events on top of django-eventstream's publish/listen machinery.

`publish()` goes through django_eventstream.send_event, so events reach listeners in this process
(and other processes when EVENTSTREAM_REDIS is set). `stream_response()` is our own stream: it sends
the current state at once on connect (django-eventstream has no such hook), then each event as one
`data: <json>` line, and closes after a final event.
"""

import asyncio
import functools
import json

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django_eventstream import send_event
from django_eventstream.views import Listener, get_listener_manager

from .errors import APIError, error_response

KEEP_ALIVE_SECONDS = 15


def event_stream(view):
    """Marks a view as an SSE stream: clients (EventSource) may send the API token as `?token=` (D14).

    The stream answers GET only: any other method is a JSON:API 405 with `Allow: GET` (and, having no
    unsafe method, the view needs no CSRF check)."""

    @functools.wraps(view)
    def stream_view(request, *args, **kwargs):
        if request.method != "GET":
            response = error_response(APIError(
                405, "method_not_allowed", f"Method {request.method} not allowed on {request.path}: it is an event stream (GET)",
            ))
            response["Allow"] = "GET"
            return response
        return view(request, *args, **kwargs)

    stream_view.event_stream = True
    return stream_view


def is_event_stream_view(view) -> bool:
    return getattr(view, "event_stream", False)


def scoped(channel: str) -> str:
    """The event channel's name on the wire: Redis Pub/Sub is shared by everything using the Redis
    server, so channels carry the installation's namespace (settings.EVENTSTREAM_NAMESPACE)."""
    namespace = getattr(settings, "EVENTSTREAM_NAMESPACE", "")
    return f"{namespace}:{channel}" if namespace else channel


def publish(channel: str, data: dict) -> None:
    """Send `data` to every client following `channel`; safe from any thread."""
    send_event(scoped(channel), "message", data)


def encode(data: dict) -> str:
    return f"data: {json.dumps(data, cls=DjangoJSONEncoder)}\n\n"


async def _event_stream(channel, initial, is_final, present):
    channel = scoped(channel)
    manager = get_listener_manager()
    listener = Listener()
    listener.channels = {channel}
    listener.assign_loop()
    manager.add_listener(listener)  # before initial(): nothing published meanwhile is lost
    try:
        snapshot = await sync_to_async(initial)()
        if snapshot is not None:
            yield encode(await present(snapshot))
            if is_final(snapshot):
                return
        while True:
            try:
                await asyncio.wait_for(listener.aevent.wait(), timeout=KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            with manager.lock:
                items = listener.channel_items.get(channel, [])
                overflow = listener.overflow
                listener.channel_items = {}
                listener.overflow = False
                listener.aevent.clear()
            if overflow:  # a slow client missed events: resynchronise from the current state
                snapshot = await sync_to_async(initial)()
                events = [snapshot] if snapshot is not None else []
            else:
                events = [json.loads(item.data) for item in items]
            for data in events:
                yield encode(await present(data))
                if is_final(data):
                    return
    finally:
        manager.remove_listener(listener)


async def _as_published(data):
    return data


def stream_response(request, channel, initial, is_final=lambda data: False, present=None):
    """A text/event-stream response: `initial()` at once, then every event published on `channel`.

    `initial` is a plain callable returning the current state (or None); it runs in a worker thread,
    so it may use the ORM. `present(data)`, when given, turns an event into what the client sees (it runs
    in a worker thread too). The stream ends after an event for which `is_final(data)` is true.
    """
    present = sync_to_async(present) if present is not None else _as_published
    response = StreamingHttpResponse(
        _event_stream(channel, initial, is_final, present), content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
