"""The JSON:API query string as a DRF filter backend (query-protocol.md §2–§6).

The whole query string of a read is parsed once (`jsonapi_query`), so its errors come in one order
whichever component asks first; the filter backend applies `sort` and the annotations that it and `filter[...]`
need and hands the pagination class a `Listing`, which applies `filter[...]` in the SQL form each of its statements
needs together with `page[...]`; the document builder applies `fields` and `include`.
"""

import re

from rest_framework.filters import BaseFilterBackend

from .query import parse_query
from .resource import resource_for
from .types import SET_OPS, TAG_OPS, TEXT_OPS, Words


def jsonapi_query(request, resource, *, collection=True):
    """The validated Query of this request for `resource` (parsed once per request; APIError if invalid)."""
    cache = request.__dict__.setdefault("_jsonapi_queries", {})
    key = (resource.type, collection)
    if key not in cache:
        cache[key] = parse_query(resource, request.GET, collection=collection)
    return cache[key]


class Listing:
    """A collection read before paging: the resource's rows with the annotations the filter and the sort need, in
    the sort's order (`order_by`, the parsed expressions), and the filter (filtering.Filter), whose tag conditions
    have two SQL forms (resource.Carrying). Whoever runs a statement over it picks the form (`rows(form)`): the
    paginator, which knows the sort and the slice of each statement."""

    def __init__(self, queryset, filter, order_by):
        self.queryset = queryset.order_by(*order_by)
        self.filter = filter
        self.order_by = list(order_by)
        self.model = queryset.model

    @classmethod
    def of(cls, queryset, query):
        """The listing of `queryset` for a parsed `query` (query.Query): its filter, its sort and their annotations."""
        present = queryset.query.annotations
        extra = {alias: expression for alias, expression in query.annotations.items() if alias not in present}
        return cls(queryset.annotate(**extra), query.filter, query.order_by)

    def rows(self, form):
        """The matching rows, sorted, with the tag conditions in `form` (resource.LIST, PROBE or PAGE)."""
        return self.queryset.filter(self.filter.q(form))


class JSONAPIFilterBackend(BaseFilterBackend):
    """`filter[...]` and `sort` on the view's `resource`, as a `Listing`: the paginator (pagination.py) runs it."""

    def filter_queryset(self, request, queryset, view):
        return Listing.of(queryset, jsonapi_query(request, view.resource))

    def get_schema_operation_parameters(self, view):
        return collection_parameters(view.resource) + document_parameters(view.resource)


def parameter(name, schema, description, **extra):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


OPERATOR_WORDS = {
    "eq": "equals", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "contains": "contains (any case)",
    "words": "contains the words (any case; the last one may be a word's start; docs/query-engine.md)",
    "starts_with": "starts with (any case)", "ends_with": "ends with (any case)", "in": "is one of (comma-separated)",
    "not_in": "is none of (comma-separated)", "not_null": "has a value (`true`) or has none (`false`)",
}
OPERATOR_ORDER = ("gt", "gte", "lt", "lte", "contains", "starts_with", "ends_with", "in", "not_in", "not_null")
FILTER_FORMS = ("`filter[metadata.KEY]` / `filter[metadata.KEY][OP]`, the `filter[or][...]` and `filter[not][...]` "
                "prefixes and repeated keys (ANDed) are accepted too, as further query parameters, but not declared: "
                "their names are open-ended (query-protocol.md §2, docs/query-engine.md)")


def collection_parameters(resource):
    """`filter[...]` and `sort`, described from the resource's declaration."""
    sortable = sorted([name for name, attr in resource.attributes.items() if attr.sortable]
                      + (["tag_count"] if resource.tags else []) + (["metadata.KEY"] if resource.metadata else []))
    return [
        *filter_parameters(resource),
        parameter("sort", {"type": "string", "pattern": list_pattern(sort_keys(resource), signed=True, empty=False)},
                  f"Comma-separated keys, `-` for descending; default `{','.join(resource.default_sort)}`. "
                  f"Sortable: {', '.join(sortable)}."),
    ]


def filter_parameters(resource):
    """One query parameter per filter the resource takes: `filter[ATTR]` (equality) and `filter[ATTR][OP]` for each
    operator of the attribute's type, and `filter[tags][any|all|none]`; each parameter's schema says what the
    attribute's type parses (types.py). Explicit names, so that every generator gives each one an argument."""
    params = []
    for name, attribute in sorted({**resource.attributes, **resource.filter_only}.items()):
        if not attribute.filterable:
            continue
        value_type = attribute.type
        if "eq" in value_type.operators:
            params.append(parameter(f"filter[{name}]", value_type.schema(), f"`{name}` equals the value."))
        for op in (op for op in OPERATOR_ORDER if op in value_type.operators):
            words = OPERATOR_WORDS["words" if op == "contains" and isinstance(value_type, Words) else op]
            params.append(parameter(f"filter[{name}][{op}]", operator_schema(value_type, op), f"`{name}` {words}."))
    if resource.tags:
        for op, words in zip(TAG_OPS, ("at least one of", "every one of", "none of")):
            params.append(parameter(f"filter[tags][{op}]", {"type": "string", "pattern": r"[^\s,]"},
                                    f"Carries {words} the tags (comma-separated names, any case)."))
    return params


def operator_schema(value_type, op):
    """The schema of the value of `filter[ATTR][op]` on an attribute of `value_type`."""
    if op == "not_null":
        return {"type": "boolean"}
    if op in TEXT_OPS:
        return {"type": "string"}
    if op in SET_OPS:  # one comma-separated text: generated clients send a list as repeated keys, which AND
        if value_type.item_pattern is None:
            return {"type": "string", "minLength": 1}
        return {"type": "string", "pattern": list_pattern([value_type.item_pattern], empty=False)}
    return value_type.schema()


def list_pattern(alternatives, *, signed=False, empty=True):
    """A regular expression for a comma-separated list of `alternatives` (regular expressions)."""
    item = ("-?" if signed else "") + "(?:" + "|".join(alternatives) + ")"
    listed = f"{item}(?:,{item})*"
    return f"^(?:{listed})?$" if empty else f"^{listed}$"


def sort_keys(resource):
    names = [name for name, attr in resource.attributes.items() if attr.sortable]
    names += [alias for alias, name in resource.aliases.items() if name in names]
    keys = [re.escape(name) for name in sorted(names) + (["tag_count"] if resource.tags else [])]
    return keys + ([r"metadata\.[A-Za-z0-9_]{1,64}"] if resource.metadata else [])


def document_parameters(resource):
    """`fields[TYPE]` for the resource and every type its includes reach, and `include`."""
    params = []
    for type_name in [resource.type] + [t for t in reachable_types(resource) if t != resource.type]:
        target = resource_for(type_name)
        fields = sorted(target.fields)
        names = fields + [alias for alias, name in target.aliases.items() if name in fields]
        params.append(parameter(f"fields[{type_name}]", {"type": "string", "pattern": list_pattern(map(re.escape, names))},
                                f"Sparse fieldset for `{type_name}`: comma-separated among {', '.join(fields)}."))
    if resource.include_paths:
        params.append(parameter("include", {"type": "string", "pattern": list_pattern(map(re.escape, resource.include_paths))},
                                f"Comma-separated relationship paths among {', '.join(resource.include_paths)}."))
    return params


def reachable_types(resource):
    """Types that the accepted `include` paths bring into `included`."""
    types = set()
    for path in resource.include_paths:
        current = resource
        for name in path.split("."):
            current = resource_for(current.relationships[name].target)
            types.add(current.type)
    return sorted(types)
