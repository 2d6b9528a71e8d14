"""Where model files live."""

from django.conf import settings

from core.content_store import ContentStore
from core.store_sweep import SweptStore
from models_app.models import SDModel


def model_store() -> ContentStore:
    return ContentStore(settings.SDHOST["MODELS_PATH"])


def model_file_path(model):
    return model_store().path(model.hash, model.file_ext)


def referenced_models(hashes):
    return SDModel.objects.filter(hash__in=hashes).values_list("hash", flat=True)


def swept_store():
    """The model store for core.store_sweep: a file is kept while a model row (any status) names its hash."""
    return SweptStore("models", model_store(), referenced_models)
