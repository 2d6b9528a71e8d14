"""POST /api/models/scan (the configured model roots, in place) and its SSE progress stream; the Civitai by-hash
sync of one model and of several (models_app/civitai/sync.py)."""

from django.conf import settings
from rest_framework.response import Response
from rest_framework.views import APIView

from core.bodies import check_body_size
from core.content_store import is_sha256
from core.errors import APIError, invalid_request, not_found
from core.jsonapi import resource_object
from core.sse import event_stream, stream_response
from models_app import roots
from models_app.api.resources import ModelResource
from models_app.civitai import sync
from models_app.civitai.manager import ensure_enabled
from models_app.models import SDModel

STATUS_URL = "/api/models/scan"
PROGRESS_URL = "/api/models/scan/events"


def no_members(request):
    """400 naming the first member of a body that should have none (paths included: none is ever accepted)."""
    body = optional_object(request)
    if body:
        key = sorted(body)[0]
        raise invalid_request("This endpoint takes no body members (and never a filesystem path: only the folders "
                              "configured in SDHOST_MODEL_ROOTS are scanned)", pointer=f"/{key}")


def optional_object(request) -> dict:
    """The JSON object of the body, {} when there is none; 400 for anything else."""
    check_body_size(request)
    if request.stream is None:
        return {}
    data = request.data
    if not isinstance(data, dict):
        raise invalid_request("Request body must be a JSON object")
    return data


class ScanView(APIView):
    """GET: the configured roots and the scan's state; POST starts a scan of SDHOST_MODEL_ROOTS: 202 with the status
    and progress stream URLs; 409 while one runs."""

    def get(self, request):
        return Response({"roots": roots.roots(), "scan_on_start": settings.SDHOST["SCAN_ON_START"],
                         "state": roots.scanner.state(), "tracking_url": PROGRESS_URL})

    def post(self, request):
        no_members(request)
        if not roots.roots():
            raise APIError(409, "no_model_roots", "No model folders are configured: set SDHOST_MODEL_ROOTS")
        first = roots.scanner.start()
        if first is None:
            raise APIError(409, "scan_running", "A scan of the model folders is running; follow "
                                                f"{PROGRESS_URL}")
        return Response({"status": "scanning", "scan": first["scan"], "roots": [r["path"] for r in roots.roots()],
                         "status_url": STATUS_URL, "tracking_url": PROGRESS_URL}, status=202)


@event_stream
def scan_progress_stream(request):
    """SSE: the current state at once (`idle` before any scan), progress events, then one final event."""
    return stream_response(request, roots.CHANNEL, roots.scanner.state, roots.is_final_event)


def sync_document(model_hash, state):
    model = SDModel.objects.get(pk=model_hash)
    return {"data": resource_object(ModelResource, model), "meta": {"civitai_sync": state}}


class CivitaiSyncView(APIView):
    """POST /api/models/{hash}/civitai-sync: look one model up on Civitai by its hash (at once)."""

    def post(self, request, pk):
        ensure_enabled()
        no_members(request)
        if not is_sha256(pk) or not SDModel.objects.filter(pk=pk).exists():
            raise not_found(f"Model {pk} not found", parameter="hash")
        return Response(sync_document(pk, sync.sync_model(pk)))


class CivitaiSyncBatchView(APIView):
    """POST /api/models/civitai-sync: `{"hashes": [...]}` or `{"all": true}`, synced in the background (202)."""

    def post(self, request):
        ensure_enabled()
        body = optional_object(request)
        unknown = sorted(set(body) - {"hashes", "all", "retry_not_found"})
        if unknown:
            raise invalid_request(f"Unknown member '{unknown[0]}'", pointer=f"/{unknown[0]}")
        if "retry_not_found" in body and not isinstance(body["retry_not_found"], bool):
            raise invalid_request("'retry_not_found' must be true or false", pointer="/retry_not_found")
        if "all" in body and body["all"] is not True:
            raise invalid_request("'all' must be true (or left out, with 'hashes')", pointer="/all")
        retry = body.get("retry_not_found", False)
        if ("hashes" in body) == ("all" in body):
            raise invalid_request("Send either 'hashes' (a list of model hashes) or 'all': true", pointer="/hashes")
        if body.get("all"):
            hashes = sync.due_hashes(retry)
        else:
            hashes = requested_hashes(body["hashes"])
        if hashes and not sync.batch.start(hashes):
            raise APIError(409, "sync_running", "A Civitai sync batch is running; try again when it has finished")
        return Response({"queued": len(hashes), "hashes": hashes}, status=202 if hashes else 200)


def requested_hashes(value) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(h, str) and is_sha256(h) for h in value):
        raise invalid_request("'hashes' must be a non-empty list of model hashes (64 lower-case hex digits)",
                              pointer="/hashes")
    hashes = list(dict.fromkeys(value))
    known = set(SDModel.objects.filter(pk__in=hashes).values_list("hash", flat=True))
    missing = [h for h in hashes if h not in known]
    if missing:
        raise APIError(404, "not_found", f"Model {missing[0]} not found", pointer="/hashes")
    return hashes
