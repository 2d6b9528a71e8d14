"""Task actions: submit, batch cancel, promote (tasks-api.md, D7, D9, D17, D27); a running task's live preview."""

import re

from django.http import HttpResponse, HttpResponseNotModified
from rest_framework import status
from rest_framework.response import Response

from core.bodies import json_object
from core.errors import APIError, invalid_request, json_pointer, not_found
from core.mixins import ResourceUpdateMixin
from core.updates import UpdateTarget
from core.writes import write_transaction
from tasks_app import previews, queue, worker
from tasks_app.models import TASK_ID_PATTERN, Task, TaskTag
from tasks_app.throughput import format_hms

from .validation import validate_submission


def task_ids_of(request) -> list:
    """The `task_ids` list of a cancel or promote body (400 invalid_request when malformed)."""
    body = json_object(request)
    for key in body:
        if key != "task_ids":
            raise invalid_request(f"Unknown field '{key}'; the body is {{\"task_ids\": [...]}}", json_pointer(key))
    if "task_ids" not in body:
        raise invalid_request("'task_ids' is required", "/task_ids")
    ids = body["task_ids"]
    if not isinstance(ids, list):
        raise invalid_request("'task_ids' must be an array of task ids", "/task_ids")
    for index, task_id in enumerate(ids):
        if not isinstance(task_id, str):
            raise invalid_request("Each task id must be a string", json_pointer("task_ids", index))
    return ids


# PATCH /api/tasks/{id} (JSON:API's update form): a task's tags (D26) are its only writable member; its parameters
# are fixed at submission, every attribute is read-only (400), and tasks have no metadata.
TASK_UPDATES = UpdateTarget(
    label="Task", model=Task, tag_link=TaskTag, tag_link_field="task", metadata=False,
    pk_check=re.compile(TASK_ID_PATTERN).fullmatch,
)


class TaskActionsMixin(ResourceUpdateMixin):
    update_target = TASK_UPDATES

    def preview(self, request, pk):
        """GET /api/tasks/{id}/preview: the running task's newest live preview (WebP), ETag `<id>-<number>`."""
        state = Task.objects.filter(pk=pk).values_list("status", flat=True).first()
        if state is None:
            raise not_found(f"Task {pk} not found")
        found = previews.read(pk) if state == "running" else None
        if found is None:
            raise APIError(404, "no_preview", f"Task {pk} has no live preview (it is {state}; previews exist while "
                                              "it renders, every SDHOST_PREVIEW_EVERY steps, unless SDHOST_PREVIEW "
                                              "is off)")
        sequence, data = found
        quoted = f'"{previews.etag(pk, sequence)}"'
        if request.headers.get("If-None-Match") in (quoted, "*"):
            response = HttpResponseNotModified()
        else:
            response = HttpResponse(b"" if request.method == "HEAD" else data, content_type=previews.CONTENT_TYPE)
            response["Content-Length"] = str(len(data))
        response["ETag"] = quoted
        response["Cache-Control"] = "no-cache"
        return response

    def create(self, request, *args, **kwargs):
        """POST /api/tasks: validate, place in the queue (D7), answer 202 with position and estimate."""
        body = json_object(request)

        def write():  # validation sees the models the insert references; the answer, the queue as placed
            submission = validate_submission(body)
            task = queue.submit(submission.fields, submission.extras, submission.tag_names)
            _, _, pending, done_after = queue.estimates(worker.current_estimates())
            position = next(i for i, pending_task in enumerate(pending) if pending_task.id == task.id)
            return task, position, done_after

        task, position, done_after = write_transaction(write, tags=bool(body.get("tags")))
        worker.queue_changed()
        return Response(
            {"task_id": task.id, "status": "queued", "position": position + 1,
             "estimated_time": format_hms(done_after[position])},
            status=status.HTTP_202_ACCEPTED,
        )

    def batch_cancel(self, request, *args, **kwargs):
        """DELETE /api/tasks: cancel pending and running tasks (D27)."""
        cancelled, running, failed = queue.cancel(task_ids_of(request))
        worker.request_cancel(running)
        if cancelled:
            worker.queue_changed()
        return Response({"cancelled": cancelled, "failed": failed})

    def promote(self, request, *args, **kwargs):
        """PUT /api/tasks/promote: move pending tasks to the front in the listed order (D7, D27)."""
        updated, new_positions, failed = queue.promote(task_ids_of(request))
        if updated:
            worker.queue_changed()
        return Response({
            "updated": updated,
            "new_positions": [{"task_id": task_id, "position": new_positions[task_id]} for task_id in updated],
            "failed": failed,
        })
