"""GET /api/tasks/queue through a real daphne server: snapshot on connect, then one per queue change."""

import json

import requests

from tests.test_tasks_api import make_model


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
        assert next(stream) == {"current_task": None, "queue": [], "queue_length": 0}

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
