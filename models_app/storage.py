"""Where model files live: the content store, or where an in-place model's file lies (`local_path`)."""

import os
from pathlib import Path

from django.conf import settings

from core.content_store import ContentStore
from core.store_sweep import SweptStore
from models_app.models import SDModel


def model_store() -> ContentStore:
    return ContentStore(settings.SDHOST["MODELS_PATH"])


def model_file_path(model):
    if model.local_path:
        return Path(model.local_path)
    return model_store().path(model.hash, model.file_ext)


class ModelFileUnavailable(RuntimeError):
    """An in-place model's file is gone or no longer holds the model's bytes (a render of it fails with this)."""


def usable_model_file(model) -> Path:
    """The path of `model`'s file, for a render; an in-place file that is missing or whose size changed raises
    ModelFileUnavailable with what to do (a full re-hash is the scan's job: `import_model --verify`)."""
    path = model_file_path(model)
    if not model.local_path:
        return path
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ModelFileUnavailable(
            f"The file of model '{model.name}' ({model.hash[:10]}), used in place at {path}, cannot be read "
            f"({exc.strerror or exc}): put it back, or import it again (manage.py import_model)"
        ) from None
    if size != model.size:
        raise ModelFileUnavailable(
            f"The file of model '{model.name}' ({model.hash[:10]}), used in place at {path}, has changed "
            f"({size} bytes, {model.size} when imported): restore it, or import the new file as a model of its own "
            "(manage.py import_model --in-place)"
        )
    return path


def referenced_models(hashes):
    return SDModel.objects.filter(hash__in=hashes).values_list("hash", flat=True)


def swept_store():
    """The model store for core.store_sweep: a file is kept while a model row (any status) names its hash."""
    return SweptStore("models", model_store(), referenced_models)
