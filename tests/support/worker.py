"""The in-process render worker for tests: waiting for a task to finish, rendering one to completion."""

import time

import pytest

from images_app.models import Image
from tasks_app.models import Task

TIMEOUT = 120


def wait_done(task_id, timeout=TIMEOUT):
    """Poll the task row until it leaves pending/running; return its final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Task.objects.values_list("status", flat=True).get(id=task_id)
        if status not in ("pending", "running"):
            return status
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for task {task_id}")


def render_task(api, body, url="/api/tasks"):
    """(task, its images in seed order) of a task submitted with `body` to `url`, once it completed."""
    response = api.post_json(url, body)
    assert response.status_code == 202, response.content
    task_id = response.json()["task_id"]
    status = wait_done(task_id)
    task = Task.objects.get(id=task_id)
    assert status == "completed", task.error_message
    return task, list(Image.objects.filter(task_id=task_id).order_by("seed"))
