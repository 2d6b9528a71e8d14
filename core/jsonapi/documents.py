"""Resource objects and documents (query-protocol.md §1, §5–§7).

Queries per document: one for the page, one COUNT when the page does not reveal the total,
one per to-many relationship rendered, and one per included type along each include path —
never one per row.
"""

from .filters import jsonapi_query
from .resource import resource_for


class DocumentBuilder:
    """Renders resource objects with sparse fieldsets and collects `included` (each resource once)."""

    def __init__(self, fields=None):
        self.fields = fields or {}
        self.seen = set()  # (type, id) of primary data and included resources
        self.included = []

    def primary(self, resource, instances, include_tree):
        objects, linkage = self.objects(resource, instances, include_tree)
        self.seen.update((obj["type"], obj["id"]) for obj in objects)
        self.include(resource, linkage, include_tree)
        return objects

    def objects(self, resource, instances, include_tree):
        """Resource objects for `instances`, plus the linkage loaded for the include step (one pass over the rows;
        what is the same for every row is worked out once, before it)."""
        wanted = self.fields.get(resource.type)
        readers = [attr.reader() for name, attr in resource.attributes.items() if wanted is None or name in wanted]
        relationships = [
            rel for name, rel in resource.relationships.items()
            if wanted is None or name in wanted or name in include_tree
        ]
        linkage = {rel.name: load_linkage(rel, instances) for rel in relationships}
        shown_links = [
            (rel.name, rel.target, rel.many, rel.omit_null, linkage[rel.name])
            for rel in relationships if wanted is None or rel.name in wanted
        ]
        type_name, public_id = resource.type, resource.public_id
        objects = []
        for instance in instances:
            pk = instance.pk
            shown = {}
            for name, target, many, omit_null, links_of in shown_links:
                links = links_of[pk]
                if many:
                    shown[name] = {"data": [{"type": target, "id": link_id} for _, link_id in links]}
                elif links or not omit_null:
                    shown[name] = {"data": links and {"type": target, "id": links[1]}}
            attributes = {}
            for name, path, render in readers:
                value = getattr(instance, path)
                attributes[name] = value if render is None else render(value)
            objects.append({"type": type_name, "id": public_id(instance), "attributes": attributes,
                            "relationships": shown})
        return objects, linkage

    def include(self, resource, linkage, include_tree):
        for name, subtree in include_tree.items():
            relationship = resource.relationships[name]
            target = resource_for(relationship.target)
            pks = {}
            for links in linkage[name].values():
                for target_pk, _ in (links if relationship.many else [links] if links else []):
                    pks.setdefault(target_pk, None)
            queryset = target.queryset(self.fields.get(target.type)).filter(pk__in=list(pks))
            rows = {row.pk: row for row in queryset} if pks else {}
            related = [rows[pk] for pk in pks if pk in rows]
            objects, sub_linkage = self.objects(target, related, subtree)
            for obj in objects:
                key = (obj["type"], obj["id"])
                if key not in self.seen:
                    self.seen.add(key)
                    self.included.append(obj)
            self.include(target, sub_linkage, subtree)


def load_linkage(relationship, instances):
    """{source pk: (target pk, public id) or None} for to-one, {source pk: [(target pk, id), ...]} for to-many."""
    if not relationship.many:
        result = {}
        for instance in instances:
            value = getattr(instance, relationship.attname)
            result[instance.pk] = None if value is None else (value, str(value))
        return result
    result = {instance.pk: [] for instance in instances}
    if result:
        if len(relationship.id_columns) == 1:
            for source_pk, target_pk, id_part in relationship.links(list(result)):
                result[source_pk].append((target_pk, str(id_part)))
        else:
            for source_pk, target_pk, *id_parts in relationship.links(list(result)):
                result[source_pk].append((target_pk, ":".join(str(part) for part in id_parts)))
    return result


def with_computed(resource, instance):
    """`instance` itself when it carries the computed attributes, else the row re-read with them."""
    paths = [attr.path for attr in resource.attributes.values() if attr.expression is not None]
    if all(hasattr(instance, path) for path in paths):
        return instance
    return resource.queryset().filter(pk=instance.pk).first() or instance


def resource_object(resource, instance):
    """The full resource object of one row (all fields, no includes)."""
    return DocumentBuilder().primary(resource, [with_computed(resource, instance)], {})[0]


def single_document(resource, instance, request=None):
    """`{"data": ...}` for one row; with a request, its `fields` and `include` apply (APIError if invalid)."""
    query = jsonapi_query(request, resource, collection=False) if request is not None else None
    builder = DocumentBuilder(query.fields if query else None)
    row = with_computed(resource, instance)
    document = {"data": builder.primary(resource, [row], query.include if query else {})[0]}
    if query and query.include_asked:
        document["included"] = builder.included
    return document


def collection_data(resource, rows, query):
    """`{"data": [...]}` for a page of rows, with `included` when the query asked for includes."""
    builder = DocumentBuilder(query.fields)
    document = {"data": builder.primary(resource, rows, query.include)}
    if query.include_asked:
        document["included"] = builder.included
    return document


__all__ = ["DocumentBuilder", "collection_data", "resource_object", "single_document"]
