"""Where model files live."""

from django.conf import settings

from core.content_store import ContentStore


def model_store() -> ContentStore:
    return ContentStore(settings.SDHOST["MODELS_PATH"])


def model_file_path(model):
    return model_store().path(model.hash, model.file_ext)
