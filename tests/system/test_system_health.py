"""GET /api/health and one-line / JSON logs (D42)."""

import json
import logging

from sdhost.logs import JsonFormatter, OneLineFormatter
from tasks_app import queue, worker
from tasks_app.models import RenderWorkerState
from tests.support.api import assert_error
from tests.tasks.test_tasks_api import make_model


def test_health_without_workers_is_degraded_but_answers(api):
    body = api.get("/api/health").json()
    assert body == {
        "status": "degraded", "database": {"vendor": body["database"]["vendor"], "reachable": True},
        "workers": [], "queue": {"pending": 0, "running": 0},
    }
    assert body["database"]["vendor"] in ("sqlite", "postgresql")


def test_health_lists_live_workers_their_device_checkpoint_and_task(api):
    checkpoint = make_model("alpha")
    task = queue.submit({"checkpoint": checkpoint, "prompt": "p"})
    queue.submit({"checkpoint": checkpoint, "prompt": "p"})
    RenderWorkerState.objects.create(id="w1", host="gpu-box", pid=41, device="cuda:1", checkpoint_hash=checkpoint.hash)
    RenderWorkerState.objects.create(id="gone", host="old", pid=1, device="cpu",
                                     heartbeat_at="2020-01-01T00:00:00Z")
    queue.claim_next("w1")
    body = api.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["queue"] == {"pending": 1, "running": 1}
    [w1] = body["workers"]  # the silent one is not listed
    assert (w1["id"], w1["host"], w1["pid"], w1["device"]) == ("w1", "gpu-box", 41, "cuda:1")
    assert (w1["checkpoint_hash"], w1["running_task"]) == (checkpoint.hash, task.id)
    assert 0 <= w1["heartbeat_age_seconds"] < 5


def test_health_is_open_when_a_token_guards_the_api(api, settings):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    response = api.get("/api/health")
    assert response.status_code == 200
    assert "s3cret" not in response.content.decode()
    assert_error(api.get("/api/config"), 401, "unauthorized")


def test_a_started_worker_reports_itself(api, transactional_db):
    started = worker.start_in_process()
    try:
        [reported] = api.get("/api/health").json()["workers"]
        assert reported["id"] == started.id and reported["device"] == "cpu"
    finally:
        worker.stop_in_process()
    assert api.get("/api/health").json()["workers"] == []


def record(message, exc_info=None):
    return logging.LogRecord("tasks_app.worker", logging.ERROR, __file__, 1, message, (), exc_info)


def test_json_log_lines():
    try:
        raise ValueError("boom")
    except ValueError as exc:
        line = JsonFormatter().format(record("Task %s failed" % "t1", (ValueError, exc, exc.__traceback__)))
    assert "\n" not in line
    parsed = json.loads(line)
    assert (parsed["level"], parsed["logger"], parsed["message"]) == ("ERROR", "tasks_app.worker", "Task t1 failed")
    assert "ValueError: boom" in parsed["exception"] and parsed["time"].endswith("+00:00")


def test_plain_log_lines_fold_tracebacks():
    try:
        raise ValueError("boom")
    except ValueError as exc:
        line = OneLineFormatter("%(levelname)s %(message)s").format(record("failed", (ValueError, exc, exc.__traceback__)))
    assert "\n" not in line and line.startswith("ERROR failed") and "ValueError: boom" in line
