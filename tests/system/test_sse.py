import asyncio
import json
import os
import threading
import time
import uuid

import pytest
import requests
from django.test import RequestFactory

from core.sse import MAX_PENDING, event_id, publish, stream_response


def read_events(response, limit):
    events = []
    for line in response.iter_lines():
        if line.startswith(b"data: "):
            events.append(json.loads(line[6:]))
            if len(events) == limit:
                break
    return events


def test_stream_sends_initial_state_then_events_and_closes_after_final(live_url, settings):
    settings.ROOT_URLCONF = "tests.support.sse_urls"
    assert_demo_stream(live_url)


def test_events_go_through_redis_when_it_is_configured(live_url, settings):
    """Scaled out, publish() sends to the installation's Redis topic only: the stream gets the events back
    from Redis (what other processes' events take too; tests/system/test_scale_multiprocess.py runs those)."""
    redis, url = scaled_out(settings)
    follower = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
    follower.subscribe(f"sdhost:{settings.EVENT_NAMESPACE}:sse")
    assert_demo_stream(live_url)
    seen, deadline = [], time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        message = follower.get_message(timeout=1)  # None for the subscription's confirmation too
        if message:
            seen.append(json.loads(json.loads(message["data"])["data"]))
    assert seen == [{"step": 1}, {"ignored": True}, {"step": 2, "final": True}]


def test_a_stream_resynchronises_when_its_process_loses_the_redis_connection(live_url, settings):
    """Events published while the relay's connection is down never reach the process: once it follows the topic
    again, every stream sends the current state."""
    redis, url = scaled_out(settings)
    with requests.get(f"{live_url}/api/demo-stream", stream=True, timeout=10) as response:
        events = (json.loads(line[6:]) for line in response.iter_lines() if line.startswith(b"data: "))
        assert next(events) == {"state": "initial"}
        server = redis.Redis.from_url(url)
        relay_name = f"sse-relay:sdhost:{settings.EVENT_NAMESPACE}:sse"
        [relay_id] = [c["id"] for c in server.client_list() if c["name"] == relay_name and "P" in c["flags"]]
        server.client_kill_filter(_id=relay_id)
        assert next(events) == {"state": "initial"}  # followed again: resynchronised
        publish("demo", {"after": True, "final": True})
        assert list(events) == [{"after": True, "final": True}]
    assert [c for c in server.client_list() if c["name"] == relay_name and "P" in c["flags"]]


def scaled_out(settings):
    """(redis-py, the test Redis URL) with the live streams going through Redis, under a namespace of this test's
    own; skips where Redis is not reachable."""
    redis = pytest.importorskip("redis")
    url = os.environ.get("SDHOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {url} (SDHOST_TEST_REDIS_URL): {exc}")
    settings.ROOT_URLCONF = "tests.support.sse_urls"
    settings.SSE_REDIS_URL, settings.EVENT_NAMESPACE = url, f"test-sse-{uuid.uuid4().hex}"
    return redis, url


def assert_demo_stream(live_url):
    received_first = threading.Event()

    def publisher():
        received_first.wait(10)
        publish("demo", {"step": 1})
        publish("other-channel", {"ignored": True})
        publish("demo", {"step": 2, "final": True})

    threading.Thread(target=publisher, daemon=True).start()
    with requests.get(f"{live_url}/api/demo-stream", stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith(b"data: "))
        assert json.loads(first[6:]) == {"state": "initial"}
        received_first.set()
        rest = [json.loads(line[6:]) for line in lines if line.startswith(b"data: ")]
    # the stream closed by itself after the final event
    assert rest == [{"step": 1}, {"step": 2, "final": True}]


def test_sse_accepts_token_query_parameter(live_url, settings):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "tok"}
    denied = requests.get(f"{live_url}/api/version?token=tok", timeout=10)
    assert denied.status_code == 401
    assert denied.json()["errors"][0]["code"] == "unauthorized"
    assert requests.get(f"{live_url}/api/version", headers={"Authorization": "Bearer tok"}, timeout=10).status_code == 200


def test_a_stream_that_falls_behind_resynchronises_from_the_current_state():
    """At most MAX_PENDING events wait for a stream; past that it drops them and sends the current state."""
    state = {"n": 0}

    async def read():
        content = aiter(stream_response(RequestFactory().get("/"), "behind", lambda: dict(state)).streaming_content)
        first = await anext(content)
        for n in range(1, MAX_PENDING + 5):  # while the stream sends nothing
            state["n"] = n
            publish("behind", {"n": n})
        return first, await anext(content)

    first, then = asyncio.run(read())
    assert first == f'id: {event_id({"n": 0})}\ndata: {{"n": 0}}\n\n'.encode()
    last = {"n": MAX_PENDING + 4}
    assert then == f'id: {event_id(last)}\ndata: {{"n": {MAX_PENDING + 4}}}\n\n'.encode()  # the current state, not event 1
