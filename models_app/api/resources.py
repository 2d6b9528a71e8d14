"""The `model` resource of the query protocol (query-protocol.md §8, models-api.md)."""

from core.jsonapi import Attribute, Resource, ToMany, ToOne
from core.jsonapi.types import INTEGER, OBJECT, TEXT, TIMESTAMP, Enum
from core.row_keys import ROW_KEYS
from models_app.models import MODEL_STATUSES, MODEL_TYPES, ModelTag, SDModel


class ModelResource(Resource):
    type = "model"
    model = SDModel
    id_pattern = r"[0-9a-f]{64}"
    attributes = {
        "name": Attribute(TEXT),
        "model_type": Attribute(Enum(MODEL_TYPES)),
        "base_model": Attribute(TEXT),
        "size": Attribute(INTEGER),
        "source_url": Attribute(TEXT),
        "metadata": Attribute(OBJECT),
        "description": Attribute(TEXT, sort=False),
        "status": Attribute(Enum(MODEL_STATUSES)),
        "error_message": Attribute(TEXT, sort=False),
        "local_path": Attribute(TEXT, sort=False),  # in-place models (docs/library.md "Model folders")
        "created_at": Attribute(TIMESTAMP),
        "updated_at": Attribute(TIMESTAMP),
    }
    aliases = {"type": "model_type"}  # D1, D22
    relationships = {
        "tags": ToMany("tag", through=ModelTag, source="model", target_key="tag", keyed_by=ROW_KEYS),
        "cover_image": ToOne("image", "cover_image"),
    }
    include_paths = ("tags", "cover_image")
    tags = "tags"
    metadata = "metadata"
