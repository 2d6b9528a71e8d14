"""Reading the query string of an entity read into a `Query` (query-protocol.md §2–§6, D16).

Only `filter[...]`, `sort`, `page[...]`, `fields[TYPE]` and `include` exist (the first three only
on collections); anything else is a 400 `invalid_parameter` naming it.
"""

import re
from dataclasses import dataclass, field

from django.db.models import F

from core.db import SQLiteNullsOrderBy
from core.errors import APIError

from .filtering import METADATA_KEY_RE, Filter, filter_q, metadata_order
from .resource import all_type_names, link_count, resource_for
from .types import parse_integer

KEY_RE = re.compile(r"^([a-z]+)((?:\[[^\[\]]*\])*)$")
PAGE_KEYS = {"number", "size", "offset", "limit", "count"}
COUNT_MODES = ("exact", "estimate")  # page[count]: how `meta.total` is taken (docs/query-engine.md, Paging)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def invalid_parameter(parameter, detail):
    return APIError(400, "invalid_parameter", detail, parameter=parameter)


@dataclass
class Page:
    """Either page[number]/page[size] ('number' style) or page[offset]/page[limit] ('offset'), and how the
    total is counted (`count`; None when page[count] was not given, which counts exactly)."""

    style: str = "number"
    offset: int = 0
    limit: int = DEFAULT_PAGE_SIZE
    count: str | None = None

    @property
    def number(self):
        return self.offset // self.limit + 1


@dataclass
class Query:
    filter: Filter = field(default_factory=Filter)  # its tag conditions in both SQL forms (filtering.Filter)
    order_by: list = field(default_factory=list)
    annotations: dict = field(default_factory=dict)
    page: Page = field(default_factory=Page)
    fields: dict = field(default_factory=dict)  # type name -> set of field names
    include: dict = field(default_factory=dict)  # include tree: name -> subtree
    include_asked: bool = False


def parse_query(resource, params, *, collection=True):
    """A validated Query for `resource` from a QueryDict; raises APIError on any problem."""
    query = Query()
    filters, page_params = [], {}
    for key, values in params.lists():
        match = KEY_RE.fullmatch(key)
        name, segments = (match.group(1), re.findall(r"\[([^\[\]]*)\]", match.group(2))) if match else (None, [])
        allowed = ("filter", "sort", "page", "fields", "include") if collection else ("fields", "include")
        if name is None and collection and key.startswith("filter"):
            raise APIError(400, "invalid_filter", f"Malformed filter key '{key}'", parameter=key)
        if name not in allowed:
            raise invalid_parameter(key, f"Unknown query parameter '{key}'")
        if name == "filter":
            filters.extend((key, segments, value) for value in values)
            continue
        if len(values) > 1:
            raise invalid_parameter(key, f"'{key}' may be given only once")
        value = values[0]
        if name in ("sort", "include") and segments:
            raise invalid_parameter(key, f"Unknown query parameter '{key}'")
        if name in ("page", "fields") and len(segments) != 1:
            raise invalid_parameter(key, f"Use {name}[NAME]=VALUE")
        if name == "sort":
            query.order_by, query.annotations = parse_sort(resource, value)
        elif name == "include":
            query.include, query.include_asked = parse_include(resource, value), True
        elif name == "fields":
            type_name = segments[0]
            query.fields[type_name] = parse_fields(key, type_name, value)
        else:
            if segments[0] not in PAGE_KEYS:
                raise invalid_parameter(
                    key, "Paging uses page[number]/page[size] or page[offset]/page[limit], and page[count]")
            page_params[segments[0]] = (key, value)
    if collection:
        if not query.order_by:
            query.order_by, query.annotations = parse_sort(resource, ",".join(resource.default_sort))
        query.filter = filter_q(resource, filters, query.annotations)
        query.page = parse_page(page_params)
    return query


def parse_sort(resource, value):
    """ORDER BY expressions (ties broken by id) and the annotations they need."""
    order_by, annotations = [], {}
    for key in value.split(","):
        descending = key.startswith("-")
        name = key[1:] if descending else key
        if name == "tag_count" and resource.tags:
            expression = tag_count(resource, annotations)
        elif name.startswith("metadata.") and resource.metadata and METADATA_KEY_RE.fullmatch(name[9:]):
            expression = metadata_order(resource, name[9:])
        else:
            attribute = resource.attributes.get(resource.resolve(name))
            if attribute is None or not attribute.sortable:
                raise invalid_parameter("sort", f"Cannot sort {resource.type} resources by '{name}'")
            expression = F(attribute.path)
            if attribute.expression is not None:
                annotations[attribute.path] = attribute.expression
        # missing metadata keys sort last either way; columns keep SQLite's NULL-first order (also on PostgreSQL)
        nulls_last = True if name.startswith("metadata.") else None
        order_by.append(SQLiteNullsOrderBy(expression, descending=descending, nulls_last=nulls_last))
    order_by.append(F("pk").asc())
    return order_by, annotations


def tag_count(resource, annotations):
    """The entity's number of tags: its maintained `tag_count` column where it has one (core/tag_counts.py),
    else counted per row."""
    if any(field.name == "tag_count" for field in resource.model._meta.concrete_fields):
        return F("tag_count")
    relationship = resource.relationships[resource.tags]
    annotations["api_tag_count"] = link_count(relationship.through, relationship.source)
    return F("api_tag_count")


def parse_include(resource, value):
    tree = {}
    for path in filter(None, value.split(",")):
        if path not in resource.include_paths:
            accepted = ", ".join(resource.include_paths) or "none"
            raise invalid_parameter("include", f"Cannot include '{path}' for {resource.type} (accepted: {accepted})")
        node = tree
        for name in path.split("."):  # a.b implies a
            node = node.setdefault(name, {})
    return tree


def parse_fields(key, type_name, value):
    if type_name not in all_type_names():
        raise invalid_parameter(key, f"Unknown resource type '{type_name}'")
    resource = resource_for(type_name)
    names = set()
    for name in filter(None, value.split(",")):
        name = resource.resolve(name)
        if name not in resource.fields:
            raise invalid_parameter(key, f"'{name}' is not a field of {type_name}")
        names.add(name)
    return names


def parse_page(page_params):
    count = page_params.pop("count", None)
    if count is not None and count[1] not in COUNT_MODES:
        raise invalid_parameter(count[0], f"{count[0]} must be {' or '.join(COUNT_MODES)}")
    page = parse_page_window(page_params)
    page.count = count and count[1]
    return page


def parse_page_window(page_params):
    styles = {"number" if key in ("number", "size") else "offset" for key in page_params}
    if len(styles) > 1:
        key = next(k for name, (k, _) in page_params.items() if name in ("offset", "limit"))
        raise invalid_parameter(key, "Use either page[number]/page[size] or page[offset]/page[limit], not both")

    def read(name, default, low, high=None):
        if name not in page_params:
            return default
        key, text = page_params[name]
        try:
            number = parse_integer(text)
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            span = f"{low}-{high}" if high else f"at least {low}"
            raise invalid_parameter(key, f"{key} must be an integer, {span}")
        return number

    if styles == {"offset"}:
        return Page("offset", read("offset", 0, 0), read("limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE))
    size = read("size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return Page("number", (read("number", 1, 1) - 1) * size, size)
