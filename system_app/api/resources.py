"""The `tag` resource of the query protocol (query-protocol.md §8, system-api.md, D6)."""

from core.jsonapi import Attribute, Resource
from core.jsonapi.resource import link_count
from core.jsonapi.types import INTEGER, TEXT, TIMESTAMP
from system_app.models import Tag


def usage_counts():
    """One count attribute per tag link table of the installed apps (model_count, image_count, ...)."""
    return {link.usage_count: Attribute(INTEGER, expression=link_count(link, "tag")) for link in Tag.link_models()}


class TagResource(Resource):
    type = "tag"
    model = Tag
    id_fields = ("name",)
    attributes = {
        "name": Attribute(TEXT),
        "description": Attribute(TEXT, sort=False),
        **usage_counts(),
        "created_at": Attribute(TIMESTAMP),
        "updated_at": Attribute(TIMESTAMP),
    }
    default_sort = ("name",)
