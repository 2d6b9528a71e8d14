"""GET /api/models/add-from-civitai/{hash}: the import's SSE stream, read through a real server (uvicorn)."""

import hashlib
import json
import re
import threading
import time

import requests

from tests.support.civitai import DATA, SHA, URL, wait_final
from tests.support.raw_sse import sse_request

SPEED = re.compile(r"^\d+(\.\d)?(B|KB|MB|GB)/s$")
ETA = re.compile(r"^\d{2,}:\d{2}:\d{2}$")


def read_stream(url, timeout=30):
    """Every event of an SSE stream, until the server closes it."""
    with requests.get(url, stream=True, timeout=timeout) as response:
        assert response.status_code == 200, response.content
        assert response.headers["Content-Type"].startswith("text/event-stream")
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith(b"data: ")]


def test_stream_sends_progress_then_the_completed_model_and_closes(live_url, civitai):
    civitai.throttle_bps = 2 * 1024 * 1024
    started = requests.post(f"{live_url}{URL}", json={"model_id": 10391}, timeout=10)
    assert started.status_code == 202
    tracking = live_url + started.json()["tracking_url"]
    results = [None, None]

    def follow(slot):
        results[slot] = read_stream(tracking)

    followers = [threading.Thread(target=follow, args=(i,)) for i in range(2)]  # several clients, one import
    for follower in followers:
        follower.start()
    for follower in followers:
        follower.join(40)
    for events in results:
        progress, final = events[:-1], events[-1]
        assert len(progress) >= 2
        for event in progress:
            assert set(event) == {"status", "progress", "speed", "eta"}
            assert event["status"] == "downloading" and 0 <= event["progress"] <= 100
            assert SPEED.match(event["speed"]) and ETA.match(event["eta"]), event
            assert round(event["progress"], 1) == event["progress"]
        assert [e["progress"] for e in progress] == sorted(e["progress"] for e in progress)
        assert any(0 < e["progress"] < 100 for e in progress)
        assert final["status"] == "completed"
        info = final["model_info"]
        assert info["type"] == "model" and info["id"] == SHA
        assert info["attributes"]["status"] == "ready" and info["attributes"]["size"] == len(DATA)
        assert requests.get(f"{live_url}/api/models/{SHA}", timeout=10).json()["data"] == info


def test_late_client_gets_the_final_event_at_once(live_url, civitai):
    assert requests.post(f"{live_url}{URL}", json={"model_id": 10391}, timeout=10).status_code == 202
    wait_final(SHA)
    events = read_stream(f"{live_url}{URL}/{SHA}", timeout=5)
    assert len(events) == 1 and events[0]["status"] == "completed" and events[0]["model_info"]["id"] == SHA


def test_failed_import_ends_with_the_error(live_url, civitai):
    stated = hashlib.sha256(b"not these bytes").hexdigest()
    civitai.add_model(900, "Liar")
    civitai.add_version(900, 901, DATA, stated_sha256=stated)
    civitai.throttle_bps = 4 * 1024 * 1024
    assert requests.post(f"{live_url}{URL}", json={"model_id": 900}, timeout=10).status_code == 202
    events = read_stream(f"{live_url}{URL}/{stated}")
    assert events[-1]["status"] == "failed" and events[-1]["error"].startswith("SHA256 mismatch")
    assert read_stream(f"{live_url}{URL}/{stated}", timeout=5) == [events[-1]]


def test_unknown_hash_is_a_404_document_not_a_stream(live_url):
    response = requests.get(f"{live_url}{URL}/{'0' * 64}", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["code"] == "not_found"


def test_cancelled_import_ends_the_stream(live_url, civitai):
    from models_app.civitai.manager import cancel_import

    civitai.throttle_bps = 256 * 1024
    assert requests.post(f"{live_url}{URL}", json={"model_id": 10391}, timeout=10).status_code == 202
    events = []

    def follow():
        events.extend(read_stream(f"{live_url}{URL}/{SHA}"))

    follower = threading.Thread(target=follow)
    follower.start()
    time.sleep(0.5)
    assert cancel_import(SHA)
    follower.join(10)
    assert not follower.is_alive()
    assert events[0]["status"] == "downloading"
    assert events[-1] == {"status": "failed", "error": "Import cancelled"}


def test_events_have_ids_and_a_reconnect_after_the_final_event_gets_204(live_url, civitai):
    """Issue 22 item 11: the final event was replayed on every EventSource reconnect, forever. A reconnect that
    carries the final event's id is told 204 (EventSource stops); any other connection still gets the final event."""
    civitai.throttle_bps = 2 * 1024 * 1024
    assert requests.post(f"{live_url}{URL}", json={"model_id": 10391}, timeout=10).status_code == 202
    live = sse_request(f"{live_url}{URL}/{SHA}")
    assert live.status == 200 and len(live.events) >= 2
    assert all(event["id"] for event in live.events)
    progress, final = live.events[0], live.events[-1]
    assert json.loads(progress["data"])["status"] == "downloading"
    assert json.loads(final["data"])["status"] == "completed"
    assert progress["id"] != final["id"]
    wait_final(SHA)

    done = sse_request(f"{live_url}{URL}/{SHA}", last_event_id=final["id"])
    assert done.status == 204 and done.body == b""

    late = sse_request(f"{live_url}{URL}/{SHA}")  # a late connection: the final event at once (spec)
    assert late.status == 200 and late.events == [final]
    behind = sse_request(f"{live_url}{URL}/{SHA}", last_event_id=progress["id"])  # saw progress, not the end
    assert behind.status == 200 and behind.events == [final]


def test_a_failed_imports_final_event_id_also_ends_reconnects(live_url, civitai):
    stated = hashlib.sha256(b"not these bytes").hexdigest()
    civitai.add_model(900, "Liar")
    civitai.add_version(900, 901, DATA, stated_sha256=stated)
    assert requests.post(f"{live_url}{URL}", json={"model_id": 900}, timeout=10).status_code == 202
    final = sse_request(f"{live_url}{URL}/{stated}").events[-1]
    assert json.loads(final["data"])["status"] == "failed" and final["id"]
    assert sse_request(f"{live_url}{URL}/{stated}", last_event_id=final["id"]).status == 204
    assert sse_request(f"{live_url}{URL}/{stated}", last_event_id="something-else").events == [final]
