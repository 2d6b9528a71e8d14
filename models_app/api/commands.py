"""Model commands: metadata updates (D3), deletes (D11, D28), file download (D21)."""

from rest_framework.response import Response

from models_app.models import SDModel
from models_app.services import DELETE_REASONS, MODEL_UPDATES, delete_model
from models_app.storage import model_file_path
from sdhost.commands import batch_delete, hashes_to_delete, json_object
from sdhost.content_store import is_sha256
from sdhost.downloads import file_response
from sdhost.errors import APIError, not_found
from sdhost.updates import update_many, update_one


class ModelCommandsMixin:
    """Actions of ModelViewSet besides the reads (names fixed by models_app/api/urls.py)."""

    def update_one(self, request, pk):
        return Response(update_one(MODEL_UPDATES, pk, json_object(request)))

    def batch_update(self, request):
        return Response(update_many(MODEL_UPDATES, json_object(request)))

    def destroy_one(self, request, pk):
        delete_model(pk)
        return Response({"success": True, "message": "Model deleted successfully"})

    def batch_destroy(self, request):
        ids = hashes_to_delete(json_object(request), "model")
        return Response(batch_delete(ids, delete_model, DELETE_REASONS))

    def content(self, request, pk):
        model = SDModel.objects.filter(pk=pk).first() if is_sha256(pk) else None
        if model is None:
            raise not_found(f"Model {pk} not found")
        if model.status != "ready":
            raise APIError(409, "model_not_ready", f"Model {pk} is {model.status}, not ready")
        path = model_file_path(model)
        if not path.is_file():
            raise not_found(f"The file of model {pk} is missing from the store")
        return file_response(
            request, path, content_type="application/octet-stream", etag=model.hash,
            filename=f"{model.name}{model.file_ext}",
        )
