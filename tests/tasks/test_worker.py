"""The render worker end to end on CPU: tiny random-weight models, real diffusers rendering."""

import io
import time

import pytest
from PIL import Image as PILImage

from images_app.models import Image
from images_app.storage import image_file_path
from models_app.storage import model_file_path
from tasks_app import queue, worker
from tasks_app.models import RenderWorkerState, Task

TIMEOUT = 120


def wait_for(predicate, timeout=TIMEOUT, what="condition"):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def status_of(task_id):
    return Task.objects.get(id=task_id).status


def wait_done(task_id):
    return wait_for(lambda: status_of(task_id) in ("completed", "failed", "cancelled") and status_of(task_id),
                    what=f"task {task_id} to finish")


def submit(api, checkpoint, **fields):
    body = {"checkpoint_hash": checkpoint.hash, "prompt": "a tiny test", "width": 64, "height": 64, "steps": 2,
            "sampler": "Euler", **fields}
    response = api.post_json("/api/tasks", body)
    assert response.status_code == 202, response.content
    return response.json()


def test_renders_stores_images_and_reuses_identical_bytes(api, checkpoints, render_worker):
    ckpt = checkpoints[0]
    first = submit(api, ckpt, seed=1234, batch_size=2, tags=["run"])["task_id"]
    assert wait_done(first) == "completed"
    task = Task.objects.get(id=first)
    assert task.completed_at is not None and task.error_message is None and task.seed == 1234
    images = list(Image.objects.filter(task=task).order_by("seed"))
    assert [img.seed for img in images] == [1234, 1235]
    for img in images:
        assert (img.width, img.height, img.format) == (64, 64, "png")
        with PILImage.open(io.BytesIO(image_file_path(img).read_bytes())) as png:
            parameters = png.info["parameters"]
        assert parameters.startswith("a tiny test")
        assert f"Seed: {img.seed}" in parameters and "Steps: 2" in parameters and "Sampler: Euler" in parameters
        assert img.metadata["parameters"] == parameters
    assert images[0].hash != images[1].hash

    # D4: the same request with the same seed renders the same bytes -> the same image rows,
    # which keep their first producing task.
    second = submit(api, ckpt, seed=1234, batch_size=2)["task_id"]
    assert wait_done(second) == "completed"
    assert Image.objects.count() == 2
    assert set(Image.objects.filter(task_id=first).values_list("hash", flat=True)) == {i.hash for i in images}


def test_random_seed_is_resolved_per_image(api, checkpoints, render_worker):
    task_id = submit(api, checkpoints[0], batch_size=3)["task_id"]
    assert wait_done(task_id) == "completed"
    assert Task.objects.get(id=task_id).seed == -1  # D30: the task keeps the seed as submitted
    seeds = sorted(Image.objects.filter(task_id=task_id).values_list("seed", flat=True))
    assert seeds[0] >= 0 and seeds == [seeds[0], seeds[0] + 1, seeds[0] + 2]


def test_start_order_matches_positions(api, checkpoints):
    """Queue while no worker runs, then compare the start order with the announced positions."""
    plan = [0, 1, 0, 2, 1, 0, 2, 2, 1, 0]
    ids = [submit(api, checkpoints[c])["task_id"] for c in plan]
    promoted = api.put_json("/api/tasks/promote", {"task_ids": [ids[7], ids[4]]}).json()
    assert [p["position"] for p in promoted["new_positions"]] == [1, 2]
    expected = queue.positions()
    worker.start_in_process()
    try:
        for task_id in ids:
            assert wait_done(task_id) == "completed"
    finally:
        worker.stop_in_process()
    started = list(Task.objects.order_by("started_at").values_list("id", flat=True))
    assert {task_id: i for i, task_id in enumerate(started, start=1)} == expected
    # Grouping saved checkpoint loads: 3 checkpoints, promoted ones first.
    checkpoints_in_order = [Task.objects.get(id=t).checkpoint_id for t in started]
    switches = sum(1 for a, b in zip(checkpoints_in_order, checkpoints_in_order[1:]) if a != b)
    assert switches <= 4


def test_cancel_running_task_discards_partial_images(api, checkpoints, render_worker):
    long_task = submit(api, checkpoints[0], steps=200, width=256, height=256, batch_size=4)["task_id"]
    after = submit(api, checkpoints[0])["task_id"]
    wait_for(lambda: worker.current_progress().get(long_task, 0) > 0, what="the long task to make progress")
    response = api.delete_json("/api/tasks", {"task_ids": [long_task]})
    assert response.json() == {"cancelled": [long_task], "failed": []}
    assert wait_done(after) == "completed"
    assert status_of(long_task) == "cancelled"
    assert not Image.objects.filter(task_id=long_task).exists()
    assert Image.objects.filter(task_id=after).count() == 1


def test_cancel_pending_task_never_runs(api, checkpoints, render_worker):
    # The last one differs in steps, so the worker cannot merge it into the batch of the first two (cross-task
    # batching claims compatible tasks together): it is still pending when it is cancelled.
    ids = [submit(api, checkpoints[0])["task_id"] for _ in range(2)] + [submit(api, checkpoints[0], steps=3)["task_id"]]
    api.delete_json("/api/tasks", {"task_ids": [ids[2]]})
    assert wait_done(ids[1]) == "completed"
    assert status_of(ids[2]) == "cancelled"
    assert Task.objects.get(id=ids[2]).started_at is None


def test_restart_recovery_runs_an_interrupted_task_once(api, checkpoints):
    task_id = submit(api, checkpoints[0], seed=7, batch_size=2)["task_id"]
    other = submit(api, checkpoints[1])["task_id"]
    interrupted = queue.claim_next()  # "crash": the task stays running with no worker
    assert interrupted.id == task_id
    worker.start_in_process()
    try:
        assert wait_done(task_id) == "completed"
        assert wait_done(other) == "completed"
    finally:
        worker.stop_in_process()
    first, second = Task.objects.get(id=task_id), Task.objects.get(id=other)
    assert first.started_at < second.started_at  # resumed at the front
    assert Image.objects.filter(task_id=task_id).count() == 2
    assert queue.recover_interrupted() == []


def test_orphan_of_a_just_killed_worker_is_recovered_once_its_lease_expires(api, checkpoints, settings):
    settings.SDHOST = {**settings.SDHOST, "TASK_LEASE_SECONDS": 1.5}
    task_id = submit(api, checkpoints[0], seed=3)["task_id"]
    # the dead worker's last heartbeat is still fresh when the new worker starts
    RenderWorkerState.objects.create(id="dead-worker", host="elsewhere", pid=1)
    assert queue.claim_next("dead-worker").id == task_id
    assert queue.recover_interrupted() == []  # its lease still holds
    worker.start_in_process()
    try:
        assert wait_done(task_id) == "completed"
    finally:
        worker.stop_in_process()
    task = Task.objects.get(id=task_id)
    assert task.attempts == 2 and task.worker_id not in (None, "dead-worker")
    assert Image.objects.filter(task_id=task_id).count() == 1


def test_missing_model_file_fails_the_task(api, checkpoints, render_worker):
    model_file_path(checkpoints[2]).unlink()
    failed = submit(api, checkpoints[2])["task_id"]
    assert wait_done(failed) == "failed"
    assert Task.objects.get(id=failed).error_message
    ok = submit(api, checkpoints[0])["task_id"]
    assert wait_done(ok) == "completed"


def test_worker_is_running_reported_by_config(api, transactional_db):
    assert api.get("/api/config").json()["features"]["queue_enabled"] is False
    worker.start_in_process()
    try:
        assert api.get("/api/config").json()["features"]["queue_enabled"] is True
    finally:
        worker.stop_in_process()
    assert worker.worker_is_running() is False
