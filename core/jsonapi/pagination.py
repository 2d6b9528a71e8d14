"""JSON:API paging as a DRF pagination class: `page[number]`/`page[size]` or `page[offset]`/`page[limit]`
(query-protocol.md §4), with `meta` and `links` in the request's own style."""

from urllib.parse import quote

from django.conf import settings
from django.db.models import F
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from core.tag_counts import table_rows

from .filters import jsonapi_query, parameter
from .query import COUNT_MODES, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from .resource import LIST, PAGE

MAX_OFFSET = 2**62  # beyond any table; larger offsets are answered without a query


DEFERRED_OFFSET = 1000  # from here on, pages are found by id first (`page_rows`)

# Each statement below asks for the filter's tag conditions (resource.Carrying) in one form, by what it reads:
# a page in an index's order (or a capped count, in no order) stops early, so it probes each row where probing pays
# (PAGE); a page in another order or an exact count visits every match, so it builds the lists once (LIST).


def page_rows(listing, offset, limit):
    """The rows of one page of a `Listing` (filters.py). Deep pages skip `offset` ids only (from an index holding the
    sort key and the id, such as `idx_images_created_hash`) and read the page's rows after, instead of reading every
    skipped row."""
    form = PAGE if sorted_by_an_index(listing.model, listing.order_by) else LIST
    if offset < DEFERRED_OFFSET:
        return listing.rows(form)[offset:offset + limit]
    ids = listing.rows(form).values("pk")[offset:offset + limit]
    return listing.rows(PAGE).filter(pk__in=ids)  # the conditions only check the page's rows


def sorted_by_an_index(model, order_by):
    """Whether rows sorted by `order_by` (order expressions, F or "-name") come in no order or in that of an index of
    `model`'s table: the first sort key is a column that leads an index of the table (or is its key)."""
    if not order_by:
        return True
    first = order_by[0]
    expression = getattr(first, "expression", first)  # an OrderBy's expression, an F, or a "-name" string
    name = expression.name if isinstance(expression, F) else expression.lstrip("-") if isinstance(expression, str) else None
    meta = model._meta
    if name == "pk":
        return True
    field = next((field for field in meta.concrete_fields if field.name == name), None)
    if field is None:  # an annotation or another expression: no index known
        return False
    return (field.primary_key or field.unique or field.db_index
            or any(index.fields and index.fields[0].lstrip("-") == field.name for index in meta.indexes))


def total(listing):
    """The exact number of rows: an unfiltered list of a counted table reads `row_count_slots` (core/tag_counts.py)."""
    rows = listing.rows(LIST)
    return counted_total(rows) or rows.count()


def counted_total(queryset):
    """The exact number of rows from `row_count_slots` when nothing filters a counted table, else None."""
    return None if queryset.query.where else table_rows(queryset.model._meta.db_table)


def estimated_total(listing, page):
    """`(total, exact)` for `page[count]=estimate`: rows are counted only up to a cap,
    `SDHOST_ESTIMATE_COUNT_CAP` rows past the page's end (one `COUNT(*)` over a LIMITed, unordered
    subquery, whose tag conditions are probed where that pays); reaching the cap gives that lower bound,
    `exact` False."""
    rows = listing.rows(LIST)
    counted = counted_total(rows)
    if counted is not None or page.offset >= MAX_OFFSET:
        return (counted if counted is not None else rows.count()), True
    cap = page.offset + page.limit + settings.SDHOST["ESTIMATE_COUNT_CAP"]
    counted = listing.rows(PAGE).order_by().values("pk")[:cap].count()
    return counted, counted < cap


class JSONAPIPagination(BasePagination):
    """One page of rows; the total is counted only when the page does not reveal it."""

    def paginate_queryset(self, queryset, request, view=None):
        """The rows of the page of `queryset`, a `Listing` (the filter backend's, filters.py)."""
        self.request = request
        self.page = page = jsonapi_query(request, view.resource).page
        rows = list(page_rows(queryset, page.offset, page.limit)) if page.offset < MAX_OFFSET else []
        self.exact = True
        if page.offset == 0 and len(rows) < page.limit:
            self.total = len(rows)
        elif page.count == "estimate":
            self.total, self.exact = estimated_total(queryset, page)
        else:
            self.total = total(queryset)
        return rows

    def get_paginated_response(self, document):
        """`document` ({"data", "included"?}) with `meta` and `links` after its data."""
        data, rest = document["data"], {key: value for key, value in document.items() if key != "data"}
        return Response({"data": data, "meta": page_meta(self.page, self.total, self.exact),
                         "links": page_links(self.request, self.page, self.total, self.exact), **rest})

    def get_paginated_response_schema(self, schema):
        # A list view's declared response is already the whole collection document (derived from its
        # Resource); undo drf-spectacular's wrapping of it in an array.
        return schema.get("items", schema) if schema.get("type") == "array" else schema

    def get_schema_operation_parameters(self, view):
        """One `page` object (deepObject: `page[number]=2`), so that the schema can say that the two styles do not
        mix (query-protocol.md §4), which separate parameters cannot."""
        properties = {
            "number": {"type": "integer", "minimum": 1, "description": "Page index from 1 (default 1)."},
            "size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                     "description": f"Items per page (default {DEFAULT_PAGE_SIZE})."},
            "offset": {"type": "integer", "minimum": 0, "description": "Items to skip."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                      "description": f"Items to return (default {DEFAULT_PAGE_SIZE})."},
            "count": {"type": "string", "enum": list(COUNT_MODES),
                      "description": "`exact` (default): `meta.total` counts every match. `estimate`: matches are "
                                     "counted only up to a cap past the page's end; beyond it `meta.total` is a lower "
                                     "bound, `meta.total_is` says `at_least` and `links.last` is left out."},
        }
        mixed = [{"required": [number_style, offset_style]}
                 for number_style in ("number", "size") for offset_style in ("offset", "limit")]
        return [parameter(
            "page", {"type": "object", "properties": properties, "additionalProperties": False,
                     "not": {"anyOf": mixed}},
            "`page[number]`/`page[size]` or `page[offset]`/`page[limit]`, not both styles; and `page[count]`.",
            style="deepObject", explode=True, example={},
        )]


def page_meta(page, total, exact=True):
    """`total` and the page; `total_is` ("exact" or "at_least", then so is the page count) when page[count] was
    given."""
    meta = {"total": total}
    if page.count is not None:
        meta["total_is"] = "exact" if exact else "at_least"
    if page.style == "offset":
        return {**meta, "page": {"offset": page.offset, "limit": page.limit}}
    return {**meta, "page": {"number": page.number, "size": page.limit, "total": -(-total // page.limit)}}


def page_links(request, page, total, exact=True):
    """self/first/prev/next/last in the request's paging style, keeping its other parameters;
    no `last` when the total is only a lower bound.

    Each link is a valid URI reference (RFC 3986): brackets, which a query may not hold literally,
    are percent-encoded like every other reserved character but `,` and `:`.
    """
    kept = "".join(
        f"{quote(key, safe='')}={quote(value, safe=',:')}&"
        for key, values in request.GET.lists() if not key.startswith("page[")
        for value in values
    )
    base = f"{quote(request.path)}?{kept}"
    counting = "" if page.count is None else f"&page%5Bcount%5D={page.count}"

    def link(offset):
        if page.style == "offset":
            return f"{base}page%5Boffset%5D={offset}&page%5Blimit%5D={page.limit}{counting}"
        return f"{base}page%5Bnumber%5D={offset // page.limit + 1}&page%5Bsize%5D={page.limit}{counting}"

    last = max(total - 1, 0) // page.limit * page.limit
    links = {"self": link(page.offset), "first": link(0)}
    if page.offset > 0:
        links["prev"] = link(min(max(page.offset - page.limit, 0), last))
    if page.offset + page.limit < total:
        links["next"] = link(page.offset + page.limit)
    if exact:
        links["last"] = link(last)
    return links
