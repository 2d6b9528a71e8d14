"""POST /api/models/add-from-civitai and its SSE progress stream (D12)."""

from rest_framework.views import APIView

from sdhost.errors import APIError, error_response


class AddFromCivitaiView(APIView):
    pass


def import_progress_stream(request, pk):
    return error_response(APIError(404, "not_found", "Not implemented yet"))
