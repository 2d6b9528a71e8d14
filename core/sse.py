"""Server-Sent Events on plain Django streaming responses.

`publish(channel, data)` hands an event to every stream following `channel`. In one process the streams get it
directly; with several processes (`settings.SSE_REDIS_URL` set) every event goes through one Redis Pub/Sub topic
per installation, which each process that serves a stream follows and hands on to its own streams.
`stream_response()` sends the current state at once on connect (`initial()`), then each event as one
`data: <json>` line, keep-alive comments while nothing happens, and closes after a final event. Streams carry live
state: nothing is stored per event, and a client that reconnects gets the current state first.

Every event has an `id:`, a digest of the state it reports (`event_id`): the same state has the same id in every
process and on every connection. A reconnect whose `Last-Event-ID` names the final state the stream is in already
gets 204 No Content, which ends an EventSource's reconnect loop; any other reconnect gets the current state.
`end_streams()` ends every open stream of the process (the server shutting down).
"""

import asyncio
import functools
import hashlib
import json
import logging
import threading
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.http import HttpResponse, StreamingHttpResponse

from .errors import APIError, error_response

KEEP_ALIVE_SECONDS = 15
MAX_PENDING = 10  # events queued for a stream that has not sent the last ones yet; past this it resynchronises
RELAY_READY_SECONDS = 5  # how long a new stream waits for this process to follow the Redis topic
RELAY_RETRY_SECONDS = 1

logger = logging.getLogger(__name__)


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


class Subscriber:
    """The events one stream has not sent yet; filled from any thread, read on the stream's event loop."""

    def __init__(self, channel: str):
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        self.ready = asyncio.Event()
        self.items: list[str] = []  # JSON documents
        self.overflow = False  # events were dropped: the stream resynchronises from the current state
        self.ended = False  # the server is shutting down: the stream ends

    def offer(self, document: str) -> None:
        """Queue an event (the hub's lock held) and wake the stream."""
        if len(self.items) < MAX_PENDING:
            self.items.append(document)
        else:
            self.overflow = True
        self.wake()

    def wake(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.ready.set)
        except RuntimeError:  # the stream's loop has closed: the stream is gone
            pass


class Hub:
    """The streams of this process by channel."""

    def __init__(self):
        self.lock = threading.Lock()
        self.subscribers: dict[str, set[Subscriber]] = {}
        self.ending = False  # end_all() was called: streams end, new ones after their first event

    def subscribe(self, channel: str) -> Subscriber:
        subscriber = Subscriber(channel)
        with self.lock:
            self.subscribers.setdefault(channel, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self.lock:
            followers = self.subscribers.get(subscriber.channel, set())
            followers.discard(subscriber)
            if not followers:
                self.subscribers.pop(subscriber.channel, None)

    def deliver(self, channel: str, document: str) -> None:
        with self.lock:
            for subscriber in self.subscribers.get(channel, ()):
                subscriber.offer(document)

    def resynchronise_all(self) -> None:
        """Events may have been missed (the Redis connection dropped): every stream re-reads the current state."""
        with self.lock:
            for followers in self.subscribers.values():
                for subscriber in followers:
                    subscriber.overflow = True
                    subscriber.wake()

    def end_all(self) -> None:
        """End every stream (and every stream started from now on, after its first event)."""
        with self.lock:
            self.ending = True
            for followers in self.subscribers.values():
                for subscriber in followers:
                    subscriber.ended = True
                    subscriber.wake()

    def take(self, subscriber: Subscriber) -> tuple[list[str], bool]:
        """(the queued events, whether some were dropped), emptying the queue."""
        with self.lock:
            items, overflow = subscriber.items, subscriber.overflow
            subscriber.items, subscriber.overflow = [], False
            subscriber.ready.clear()
        return items, overflow


class RedisRelay:
    """Events through one Redis Pub/Sub topic: every process publishes there, and a thread of each process that
    serves streams follows the topic (once a stream has started) and hands the events to the hub."""

    def __init__(self, url: str, topic: str, hub: Hub):
        import redis  # the scale-out extra (`pip install -e '.[scale]'`); only imported when Redis is configured

        self.client = redis.Redis.from_url(url, client_name=f"sse-relay:{topic}")  # named in CLIENT LIST
        self.topic = topic
        self.hub = hub
        self.lock = threading.Lock()
        self.thread = None
        self.following = threading.Event()

    def publish(self, channel: str, document: str) -> None:
        self.client.publish(self.topic, json.dumps({"channel": channel, "data": document}))

    def follow(self) -> bool:
        """Start following the topic (once per process); whether it is followed within RELAY_READY_SECONDS."""
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="sse-redis-relay", daemon=True)
                self.thread.start()
        return self.following.wait(RELAY_READY_SECONDS)

    def run(self) -> None:
        subscriptions = 0
        while True:
            pubsub = self.client.pubsub()
            try:
                pubsub.subscribe(self.topic)
                for message in pubsub.listen():
                    if message["type"] == "subscribe":  # following the topic: at first, and again after a reconnect
                        subscriptions += 1
                        if subscriptions > 1:  # events may have gone by meanwhile
                            self.hub.resynchronise_all()
                        self.following.set()
                    elif message["type"] == "message":
                        self.hand_on(message["data"])
            except Exception:  # Redis gone (redis-py's own reconnects failed), or a fault: follow again
                logger.warning("SSE relay stopped following %s; following it again", self.topic, exc_info=True)
            finally:
                self.following.clear()
                pubsub.close()
            time.sleep(RELAY_RETRY_SECONDS)

    def hand_on(self, payload: bytes) -> None:
        try:
            event = json.loads(payload)
            channel, document = event["channel"], event["data"]
        except (ValueError, TypeError, KeyError):
            logger.warning("SSE relay ignored a message on %s that is no event: %r", self.topic, payload[:200])
            return
        self.hub.deliver(channel, document)


hub = Hub()
_relays: dict[tuple[str, str], RedisRelay] = {}
_relays_lock = threading.Lock()


def relay() -> RedisRelay | None:
    """The Redis relay of this process when settings.SSE_REDIS_URL is set (made on first use), else None."""
    url = getattr(settings, "SSE_REDIS_URL", None)
    if not url:
        return None
    # Redis Pub/Sub is shared by everything using the Redis server: one topic per installation.
    topic = f"sdhost:{getattr(settings, 'EVENT_NAMESPACE', '')}:sse"
    with _relays_lock:
        if (url, topic) not in _relays:
            _relays[url, topic] = RedisRelay(url, topic, hub)
        return _relays[url, topic]


def publish(channel: str, data: dict) -> None:
    """Send `data` to every client following `channel`; safe from any thread."""
    document = json.dumps(data, cls=DjangoJSONEncoder)
    relayed = relay()
    if relayed is not None:
        relayed.publish(channel, document)  # this process's streams get it back from the topic
    else:
        hub.deliver(channel, document)


def end_streams() -> None:
    """End every open stream of this process cleanly (the server is shutting down: sdhost/serving.py)."""
    hub.end_all()


def event_id(data: dict) -> str:
    """The `id:` of an event reporting `data` (as published, before `present`): a digest of the state, so the
    same state has the same id in every process and on every connection."""
    canonical = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(data: dict, identifier: str | None = None) -> str:
    id_line = f"id: {identifier}\n" if identifier is not None else ""
    return f"{id_line}data: {json.dumps(data, cls=DjangoJSONEncoder)}\n\n"


def _read_and_close(read, *args):
    """`read(*args)` in a pooled thread; the database connections it opened are closed before the thread is
    handed back, so an idle stream holds none (and a pooled thread keeps none open)."""
    try:
        return read(*args)
    finally:
        connections.close_all()


_read = sync_to_async(_read_and_close, thread_sensitive=False)


async def _event_stream(channel, initial, is_final, present):
    subscriber = hub.subscribe(channel)  # before initial(): nothing published meanwhile is lost
    try:
        relayed = relay()
        if relayed is not None and not await asyncio.to_thread(relayed.follow):
            logger.warning("SSE relay does not follow Redis yet: the stream may miss events until it does")
        snapshot = await _read(initial)
        if snapshot is not None:
            yield encode(await present(snapshot), event_id(snapshot))
            if is_final(snapshot):
                return
        while not (subscriber.ended or hub.ending):
            try:
                async with asyncio.timeout(KEEP_ALIVE_SECONDS):  # no extra task per wait, unlike wait_for
                    await subscriber.ready.wait()
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if subscriber.ended:
                return
            items, overflow = hub.take(subscriber)
            if overflow:  # events were missed (a slow client, a lost Redis connection): send the current state
                snapshot = await _read(initial)
                events = [snapshot] if snapshot is not None else []
            else:
                events = [json.loads(item) for item in items]
            for data in events:
                yield encode(await present(data), event_id(data))
                if is_final(data):
                    return
    finally:
        hub.unsubscribe(subscriber)


async def _as_published(data):
    return data


class EventStreamResponse(StreamingHttpResponse):
    """A live stream: idle most of its life, so it holds no thread and no database connection meanwhile. The ASGI
    handler (sdhost/serving.py) closes the request's connections and gives its thread back before sending it."""


def stream_response(request, channel, initial, is_final=lambda data: False, present=None):
    """A text/event-stream response: `initial()` at once, then every event published on `channel`.

    `initial` is a plain callable returning the current state (or None); it runs in a pooled worker thread,
    so it may use the ORM (its connections are closed after each call). `present(data)`, when given, turns an
    event into what the client sees (it runs the same way). The stream ends after an event for which
    `is_final(data)` is true. Between events the stream is a suspended coroutine: no thread, no connection.

    A request whose `Last-Event-ID` is the id of the current state, when that state is final, is answered
    204 No Content: that client has seen the end already (EventSource stops reconnecting on 204).
    """
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id:
        snapshot = initial()
        if snapshot is not None and is_final(snapshot) and event_id(snapshot) == last_event_id:
            return HttpResponse(status=204)
    present = functools.partial(_read, present) if present is not None else _as_published
    response = EventStreamResponse(
        _event_stream(channel, initial, is_final, present), content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
