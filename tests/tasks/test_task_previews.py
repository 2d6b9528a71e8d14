"""Live previews of a running task (issue 26): GET /api/tasks/{id}/preview, the queue stream's `preview`, and
A1111's /sdapi/v1/progress `current_image`, on a real render by the in-process worker."""

import base64
import io
import time
import uuid

import pytest
from PIL import Image as PILImage

from tasks_app import previews, queue, worker
from tests.support.api import assert_error
from tests.support.worker import wait_done

TIMEOUT = 120


@pytest.fixture
def every_step(settings):
    settings.SDHOST = {**settings.SDHOST, "PREVIEW": "approx", "PREVIEW_EVERY": 1}


def wait_for(predicate, what):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def submit_long(api, checkpoint, **fields):
    body = {"checkpoint_hash": checkpoint.hash, "prompt": "a long render", "width": 128, "height": 64,
            "steps": 200, "sampler": "Euler", "batch_size": 2, **fields}
    response = api.post_json("/api/tasks", body)
    assert response.status_code == 202, response.content
    return response.json()["task_id"]


def fetch_preview(api, task_id):
    response = api.get(f"/api/tasks/{task_id}/preview")
    return response if response.status_code == 200 else None


def test_preview_of_a_running_task_with_etag_and_304_then_gone(api, checkpoints, every_step, render_worker):
    task_id = submit_long(api, checkpoints[0])
    response = wait_for(lambda: fetch_preview(api, task_id), "a preview")
    assert response["Content-Type"] == "image/webp" and response["Cache-Control"] == "no-cache"
    image = PILImage.open(io.BytesIO(response.content))
    assert image.format == "WEBP" and image.size == (2 * 128 // 8, 64 // 8)  # the batch's two images side by side
    assert response["ETag"].startswith(f'"{task_id}-')

    # the queue stream announces the preview by number and URL, without its bytes
    entry = wait_for(lambda: next((t for t in queue.snapshot()["current_tasks"] if t["id"] == task_id), None),
                     "the running entry")
    assert isinstance(entry["preview"], int) and entry["preview"] >= 1
    assert entry["preview_url"] == f"/api/tasks/{task_id}/preview"

    # If-None-Match: 304 while the preview is unchanged (a newer one answers 200 with its own ETag)
    not_modified = 0
    for _ in range(50):
        first = api.get(f"/api/tasks/{task_id}/preview")
        again = api.get(f"/api/tasks/{task_id}/preview", HTTP_IF_NONE_MATCH=first["ETag"])
        if again.status_code == 304:
            assert again["ETag"] == first["ETag"] and again.content == b""
            not_modified += 1
        else:
            assert again.status_code == 200 and again["ETag"] != first["ETag"]
    assert not_modified > 0

    api.delete_json("/api/tasks", {"task_ids": [task_id]})
    assert wait_done(task_id) == "cancelled"
    wait_for(lambda: previews.latest(task_id) is None, "the preview to be discarded")
    assert_error(api.get(f"/api/tasks/{task_id}/preview"), 404, "no_preview")


def test_no_preview_for_unknown_pending_or_finished_tasks(api, checkpoints, every_step, render_worker):
    assert_error(api.get(f"/api/tasks/{uuid.uuid4()}/preview"), 404, "not_found")
    task_id = submit_long(api, checkpoints[0], steps=2, batch_size=1, width=64)
    wait_done(task_id)
    assert_error(api.get(f"/api/tasks/{task_id}/preview"), 404, "no_preview")
    # the worker discards the folder once the render's results are stored (just after the task completes)
    wait_for(lambda: not (previews.folder() / task_id).exists(), "the preview folder to be discarded")


def test_previews_off_makes_none(api, checkpoints, settings, render_worker):
    settings.SDHOST = {**settings.SDHOST, "PREVIEW": "off", "PREVIEW_EVERY": 1}
    task_id = submit_long(api, checkpoints[0], steps=60)
    wait_for(lambda: worker.current_progress().get(task_id, 0) > 0.5, "progress")
    assert previews.latest(task_id) is None
    assert_error(api.get(f"/api/tasks/{task_id}/preview"), 404, "no_preview")
    wait_done(task_id)


def test_a1111_progress_current_image(api, checkpoints, every_step, render_worker):
    task_id = submit_long(api, checkpoints[0], batch_size=1)
    wait_for(lambda: fetch_preview(api, task_id), "a preview")
    body = wait_for(lambda: (b := api.get("/sdapi/v1/progress").json())["current_image"] and b, "current_image")
    png = PILImage.open(io.BytesIO(base64.b64decode(body["current_image"])))
    assert png.format == "PNG" and png.size == (128 // 8, 64 // 8)
    assert body["state"]["job"] == f"task({task_id})"
    assert api.get("/sdapi/v1/progress?skip_current_image=true").json()["current_image"] is None
    bad = api.get("/sdapi/v1/progress?skip_current_image=maybe")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "skip_current_image"]
    api.delete_json("/api/tasks", {"task_ids": [task_id]})
    wait_done(task_id)
    assert api.get("/sdapi/v1/progress").json()["current_image"] is None
