"""The in-process render worker for tests: waiting for a task to finish."""

import time

import pytest

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
