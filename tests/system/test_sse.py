import json
import threading

import requests

from core.sse import publish


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
