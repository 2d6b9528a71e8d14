"""The `image` resource of the query protocol (query-protocol.md §8, images-api.md)."""

from core.jsonapi import Attribute, Resource, ToMany, ToOne
from core.jsonapi.types import INTEGER, OBJECT, TEXT, TIMESTAMP
from core.row_keys import ROW_KEYS
from images_app.models import Image, ImageTag


class ImageResource(Resource):
    type = "image"
    model = Image
    id_pattern = r"[0-9a-f]{64}"
    attributes = {
        "width": Attribute(INTEGER),
        "height": Attribute(INTEGER),
        "size": Attribute(INTEGER),
        "seed": Attribute(INTEGER),
        "metadata": Attribute(OBJECT),
        "created_at": Attribute(TIMESTAMP),
    }
    # Every task that produced the image, through tasks_app's task_images links (the first producer is `task`).
    # The models it was made with, by SHA256, through models_app's image_models links (docs/library.md).
    filter_only = {"task_id": Attribute(TEXT, source="task_links__task__id", sort=False, many=True),
                   "model": Attribute(TEXT, source="model_links__model__hash", sort=False, many=True)}
    relationships = {
        "task": ToOne("task", "task"),
        "tags": ToMany("tag", through=ImageTag, source="image", target_key="tag", keyed_by=ROW_KEYS),
    }
    include_paths = ("tags", "task")
    tags = "tags"
    metadata = "metadata"
