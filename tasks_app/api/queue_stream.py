"""GET /api/tasks/queue: SSE stream of queue snapshots (tasks-api.md, D20)."""

from core.sse import event_stream, stream_response
from tasks_app import queue, worker


@event_stream
def queue_stream(request):
    """The current snapshot at once, then one per queue change and per progress tick."""
    return stream_response(request, worker.QUEUE_CHANNEL, lambda: queue.snapshot(worker.current_estimates()))
