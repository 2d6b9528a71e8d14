"""POST /api/images/{hash}/upscale (D38): queue an upscale task for a stored image."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.bodies import json_object
from core.content_store import is_sha256
from core.errors import not_found
from core.writes import write_transaction
from images_app.models import Image
from tasks_app import queue, worker
from tasks_app.image_inputs import validate_upscale
from tasks_app.throughput import format_hms


def queued_response(task) -> Response:
    """202 with the task's id, queue position and estimate (as POST /api/tasks answers)."""
    _, _, pending, done_after = queue.estimates(worker.current_progress())
    position = next(i for i, pending_task in enumerate(pending) if pending_task.id == task.id)
    return Response({"task_id": task.id, "status": "queued", "position": position + 1,
                     "estimated_time": format_hms(done_after[position])}, status=status.HTTP_202_ACCEPTED)


class ImageUpscaleView(APIView):
    """POST /api/images/{hash}/upscale, answered by tasks_app (it queues a task; images_app may not import it)."""

    def post(self, request, pk):
        image = Image.objects.filter(pk=pk).first() if is_sha256(pk) else None
        if image is None:
            raise not_found(f"Image {pk} not found")
        body = json_object(request)  # `{}` for the defaults; an empty body is refused like every write's
        response = write_transaction(lambda: queued_response(queue.submit(validate_upscale(body, image))))
        worker.queue_changed()
        return response
