"""POST /api/models/add-from-civitai and its SSE progress stream (D12)."""

from rest_framework.response import Response
from rest_framework.views import APIView

from core.bodies import json_object
from core.errors import error_response, not_found
from core.jsonapi import resource_object
from core.sse import event_stream, stream_response
from models_app.api.resources import ModelResource
from models_app.civitai import manager
from models_app.civitai.mapping import parse_id
from models_app.models import SDModel


def tracking_url(model_hash):
    return f"/api/models/add-from-civitai/{model_hash}"


class AddFromCivitaiView(APIView):
    """Starts an import: 202 when a download starts, 200 with the current status otherwise."""

    def post(self, request):
        manager.ensure_enabled()
        body = json_object(request)
        model_id = parse_id(body.get("model_id"), "model_id")
        version_id = parse_id(body.get("version_id"), "version_id", required=False)
        model, started = manager.start_import(model_id, version_id)
        return Response(
            {"hash": model.hash, "status": model.status, "tracking_url": tracking_url(model.hash)},
            status=202 if started else 200,
        )


def present_import_event(event):
    """A `completed` event shows the imported model as GET /api/models/{hash} does (`model_info`)."""
    if event.get("status") != "completed" or "hash" not in event:
        return event
    return {"status": "completed", "model_info": resource_object(ModelResource, SDModel.objects.get(pk=event["hash"]))}


@event_stream
def import_progress_stream(request, pk):
    """SSE: the current state at once, then progress events, then one final event."""
    if not SDModel.objects.filter(pk=pk).exists():
        return error_response(not_found(f"No model or import with hash '{pk}'", parameter="hash"))
    return stream_response(
        request, manager.channel(pk), lambda: manager.import_state(pk), manager.is_final_event,
        present=present_import_event,
    )
