"""Model actions: metadata updates (D3), deletes (D11, D28), file download (D21)."""

from core.content_store import is_sha256
from core.downloads import file_response
from core.errors import APIError, not_found
from core.mixins import LibraryActionsMixin
from models_app.models import SDModel
from models_app.services import DELETE_REASONS, MODEL_UPDATES, delete_model
from models_app.storage import model_file_path


class ModelActionsMixin(LibraryActionsMixin):
    """Actions of ModelViewSet besides the reads (names fixed by models_app/api/urls.py)."""

    update_target = MODEL_UPDATES
    delete_entity = staticmethod(delete_model)
    delete_reasons = DELETE_REASONS
    resource_type = "model"
    noun = "Model"

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
