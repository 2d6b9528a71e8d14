"""The `tag` resource of the query protocol (query-protocol.md §8, system-api.md, D6)."""

from django.db.models import IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from core.jsonapi import Attribute, Resource
from core.jsonapi.types import INTEGER, TEXT, TIMESTAMP, Text
from core.tags import fold_tag_name
from system_app.models import Tag, TagUsage


class TagNameText(Text):
    """Tag names: equality and sets compare case-folded through `Tag.folded` (D3) on every database."""

    def q(self, path, op, value):
        if op == "eq":
            return Q(folded=fold_tag_name(value))
        if op in ("in", "not_in"):
            q = Q(folded__in=[fold_tag_name(name) for name in value])
            return q if op == "in" else ~q
        return super().q(path, op, value)


def usage_count(link):
    """How many rows of `link` carry the tag: its maintained `tag_usage` row (core/tag_counts.py), else 0."""
    uses = TagUsage.objects.filter(tag_name=OuterRef("pk"), link=link._meta.db_table).values("uses")[:1]
    return Coalesce(Subquery(uses, output_field=IntegerField()), Value(0))


def usage_counts():
    """One count attribute per tag link table of the installed apps (model_count, image_count, ...)."""
    return {link.usage_count: Attribute(INTEGER, expression=usage_count(link)) for link in Tag.link_models()}


class TagResource(Resource):
    type = "tag"
    model = Tag
    id_fields = ("name",)
    attributes = {
        "name": Attribute(TagNameText()),
        "description": Attribute(TEXT, sort=False),
        **usage_counts(),
        "created_at": Attribute(TIMESTAMP),
        "updated_at": Attribute(TIMESTAMP),
    }
    default_sort = ("name",)
