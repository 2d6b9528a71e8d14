"""A render worker keeps rendering through errors, and says so when it cannot (issue 23, item 1).

A thread that ends unexpectedly is started again: the threads are ended for real, by raising SystemExit in them
(an error no `except Exception` catches), as an error escaping the render loop would end it. A render loop that
keeps failing (here a database trigger refuses every claim) is reported stopped by GET /api/health and doctor.
"""

import ctypes
import threading
import time

import pytest
from django.db import connection

from sdhost.doctor import OK, WARN, check_worker
from tasks_app import queue
from tasks_app.models import RenderWorkerState, Task
from tests.tasks.test_worker import submit, wait_done, wait_for


def end_thread(name):
    """Raise SystemExit in the live thread called `name`; returns that thread."""
    [thread] = [t for t in threading.enumerate() if t.name == name]
    assert ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit)) == 1
    thread.join(30)
    assert not thread.is_alive()
    return thread


def live_thread(name, other_than):
    found = [t for t in threading.enumerate() if t.name == name and t is not other_than and t.is_alive()]
    return found[0] if found else None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the ending, on purpose
def test_an_ended_render_loop_is_started_again_and_its_task_failed(api, checkpoints, render_worker):
    slow = submit(api, checkpoints[0], steps=200, batch_size=4, seed=1)["task_id"]
    wait_for(lambda: render_worker.progress.get(slow), what="the render to make progress")

    ended = end_thread("render-worker")

    assert wait_done(slow) == "failed"  # not `running` for ever under a heartbeat that renews its lease
    assert "loop ended unexpectedly" in Task.objects.get(id=slow).error_message
    assert wait_for(lambda: live_thread("render-worker", ended), what="a new render loop")
    after = submit(api, checkpoints[0], seed=2)["task_id"]
    assert wait_done(after) == "completed"
    assert render_worker.alive and render_worker.restarts == 1
    health = api.get("/api/health").json()
    assert health["status"] == "ok" and [w["id"] for w in health["workers"]] == [render_worker.id]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the ending, on purpose
def test_an_ended_heartbeat_is_started_again(api, render_worker):
    ended = end_thread("render-heartbeat")
    ended_at = time.time()
    assert wait_for(lambda: live_thread("render-heartbeat", ended), what="a new heartbeat")
    wait_for(lambda: RenderWorkerState.objects.get(id=render_worker.id).heartbeat_at.timestamp() > ended_at,
             what="a heartbeat after the restart")
    assert queue.live_workers().filter(id=render_worker.id).exists() and render_worker.restarts == 1


REFUSE_CLAIMS = {  # a real database condition: every claim (an UPDATE of a task's status) fails
    "sqlite": ["CREATE TRIGGER refuse_claims BEFORE UPDATE OF status ON tasks "
               "BEGIN SELECT RAISE(ABORT, 'claims refused'); END"],
    "postgresql": ["CREATE FUNCTION refuse_claims() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'claims refused'; "
                   "END $$ LANGUAGE plpgsql",
                   "CREATE TRIGGER refuse_claims BEFORE UPDATE OF status ON tasks FOR EACH ROW "
                   "EXECUTE FUNCTION refuse_claims()"],
}
ALLOW_CLAIMS = {
    "sqlite": ["DROP TRIGGER refuse_claims"],
    "postgresql": ["DROP TRIGGER refuse_claims ON tasks", "DROP FUNCTION refuse_claims()"],
}


def run_sql(statements):
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def test_a_worker_whose_loop_keeps_failing_is_reported_stopped_until_it_works_again(api, checkpoints, render_worker):
    run_sql(REFUSE_CLAIMS[connection.vendor])
    try:
        waiting = submit(api, checkpoints[0], seed=3)["task_id"]
        health = wait_for(lambda: (body := api.get("/api/health").json())["status"] != "ok" and body,
                          what="health to report the worker stopped")
        assert health["status"] == "degraded" and health["workers"] == [] and health["queue"]["pending"] == 1
        verdict = check_worker(render_worker_in_serve=True)
        assert verdict.status == WARN and verdict.detail.startswith("not running"), verdict
        assert render_worker.alive  # still trying, and it will render once it can
    finally:
        run_sql(ALLOW_CLAIMS[connection.vendor])
    assert wait_done(waiting) == "completed"
    assert api.get("/api/health").json()["status"] == "ok"
    assert check_worker(render_worker_in_serve=True).status == OK
