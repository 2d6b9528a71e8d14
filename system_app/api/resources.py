"""The `tag` resource of the query protocol (query-protocol.md §8, system-api.md, D6)."""

from images_app.models import ImageTag
from models_app.models import ModelTag
from sdhost.jsonapi import Attribute, Resource
from sdhost.jsonapi.resource import link_count
from sdhost.jsonapi.types import INTEGER, TEXT, TIMESTAMP
from system_app.models import Tag
from tasks_app.models import TaskTag


class TagResource(Resource):
    type = "tag"
    model = Tag
    id_fields = ("name",)
    attributes = {
        "name": Attribute(TEXT),
        "description": Attribute(TEXT, sort=False),
        "model_count": Attribute(INTEGER, expression=link_count(ModelTag, "tag")),
        "image_count": Attribute(INTEGER, expression=link_count(ImageTag, "tag")),
        "task_count": Attribute(INTEGER, expression=link_count(TaskTag, "tag")),
        "created_at": Attribute(TIMESTAMP),
        "updated_at": Attribute(TIMESTAMP),
    }
    default_sort = ("name",)
