"""GET /api/tasks/queue: SSE stream of queue snapshots."""

from sdhost.errors import APIError, error_response


def queue_stream(request):
    return error_response(APIError(404, "not_found", "Not implemented yet"))
