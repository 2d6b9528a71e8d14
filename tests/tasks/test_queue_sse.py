"""GET /api/tasks/queue through a real server (uvicorn): snapshot on connect, then one per queue change."""

import json

import requests

from tests.support.raw_sse import sse_request
from tests.tasks.test_tasks_api import make_model


def events(response):
    for line in response.iter_lines():
        if line.startswith(b"data: "):
            yield json.loads(line[6:])


def test_queue_stream_follows_submit_promote_cancel(live_url):
    alpha, beta = make_model("alpha"), make_model("beta")

    def submit(checkpoint):
        response = requests.post(f"{live_url}/api/tasks", json={"checkpoint_hash": checkpoint.hash, "prompt": "p"}, timeout=10)
        assert response.status_code == 202, response.text
        return response.json()["task_id"]

    with requests.get(f"{live_url}/api/tasks/queue", stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        stream = events(response)
        assert next(stream) == {"current_task": None, "current_tasks": [], "queue": [], "queue_length": 0}

        a1 = submit(alpha)
        assert next(stream)["queue"] == [{"id": a1, "status": "waiting", "model": "alpha", "position": 1}]
        b1 = submit(beta)
        a2 = submit(alpha)
        next(stream)
        snapshot = next(stream)
        assert [(e["id"], e["position"]) for e in snapshot["queue"]] == [(a1, 1), (a2, 2), (b1, 3)]
        assert snapshot["queue_length"] == 3 and snapshot["current_task"] is None

        requests.put(f"{live_url}/api/tasks/promote", json={"task_ids": [b1]}, timeout=10).raise_for_status()
        assert [e["id"] for e in next(stream)["queue"]] == [b1, a1, a2]

        requests.delete(f"{live_url}/api/tasks", json={"task_ids": [a1]}, timeout=10).raise_for_status()
        snapshot = next(stream)
        assert [(e["id"], e["position"]) for e in snapshot["queue"]] == [(b1, 1), (a2, 2)]
        assert snapshot["queue_length"] == 2


def test_queue_stream_accepts_token_parameter(live_url, settings):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    assert requests.get(f"{live_url}/api/tasks/queue", timeout=10).status_code == 401
    with requests.get(f"{live_url}/api/tasks/queue?token=s3cret", stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert next(events(response))["queue_length"] == 0


def test_queue_stream_reports_progress_then_idle(live_url, tmp_path):
    from engine.tiny_models import write_model_file
    from images_app.models import Image
    from models_app.services import import_model_file
    from tasks_app import worker

    checkpoint, _ = import_model_file(write_model_file(tmp_path / "tiny.safetensors"), name="tiny")
    worker.start_in_process()
    try:
        with requests.get(f"{live_url}/api/tasks/queue", stream=True, timeout=60) as response:
            stream = events(response)
            assert next(stream)["current_task"] is None
            body = {"checkpoint_hash": checkpoint.hash, "prompt": "p", "width": 64, "height": 64, "steps": 12,
                    "sampler": "Euler", "seed": 3}
            task_id = requests.post(f"{live_url}/api/tasks", json=body, timeout=10).json()["task_id"]
            progress = []
            for snapshot in stream:
                current = snapshot["current_task"]
                if current is not None:
                    assert current["id"] == task_id and current["model"] == "tiny"
                    assert current["status"] == "running" and len(current["eta"].split(":")) == 3
                    progress.append(current["progress"])
                elif progress:  # idle again after running: the task is done, with its image
                    assert snapshot == {"current_task": None, "current_tasks": [], "queue": [], "queue_length": 0}
                    assert Image.objects.filter(task_id=task_id, seed=3).count() == 1
                    break
    finally:
        worker.stop_in_process()
    assert progress == sorted(progress) and 0 < max(progress) <= 100
    assert len(progress) >= 2


def test_queue_events_have_ids_and_a_reconnect_gets_the_current_snapshot(live_url):
    """Issue 22 item 11: queue events carry ids too. The queue is live state, so a reconnect gets a fresh snapshot
    whatever its Last-Event-ID (even the id of the state it saw last): the stream never ends with a 204."""
    def first(events):
        return len(events) >= 1

    seen = sse_request(f"{live_url}/api/tasks/queue", read_until=first, timeout=10)
    assert seen.status == 200 and seen.events[0]["id"]
    assert json.loads(seen.events[0]["data"])["queue"] == []
    again = sse_request(f"{live_url}/api/tasks/queue", last_event_id=seen.events[0]["id"], read_until=first, timeout=10)
    assert again.status == 200 and again.events[0] == seen.events[0]  # same state, same id
    task = requests.post(f"{live_url}/api/tasks", json={"checkpoint_hash": make_model("beta").hash, "prompt": "p"},
                         timeout=10).json()["task_id"]
    changed = sse_request(f"{live_url}/api/tasks/queue", last_event_id=seen.events[0]["id"], read_until=first,
                          timeout=10)
    assert changed.status == 200 and changed.events[0]["id"] != seen.events[0]["id"]
    assert [entry["id"] for entry in json.loads(changed.events[0]["data"])["queue"]] == [task]
