"""`filter[...]` parameters → one Django `Q` (query-protocol.md §2, errors per D19).

Key grammar: `filter[or]?[not]?[ATTR]` then an optional `[OP]`, where ATTR is an attribute, a
filter-only key, `tags` or `metadata.KEY`. Conditions are ANDed; `or`-prefixed ones form one
group that is ANDed with the rest; `not` negates one condition.
"""


from django.db.models import BooleanField, Case, CharField, Exists, F, FloatField, Func, Q, TextField, Value, When
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    In,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)

from core.errors import APIError
from core.metadata import METADATA_KEY_RE
from core.tag_counts import rows_of, usage
from core.tags import fold_tag_name

from .resource import Carrying
from .types import (
    COMPARISON_OPS,
    EVERYTHING,
    NOTHING,
    OPERATORS,
    SET_OPS,
    TAG_OPS,
    TEXT_OPS,
    parse_boolean,
    parse_number,
)

PREFIXES = ("or", "not")


def invalid_filter(parameter, detail):
    return APIError(400, "invalid_filter", detail, parameter=parameter)


def filter_q(resource, conditions, annotations):
    """The combined condition of all `(parameter, segments, value)` filter entries (a `Filter`); computed
    attributes it refers to are added to `annotations`."""
    required, alternatives = [], []
    for parameter, segments, value in conditions:
        prefixes, rest = split_prefixes(parameter, segments)
        condition = condition_q(resource, parameter, rest, value, annotations)
        (alternatives if "or" in prefixes else required).append((condition, "not" in prefixes))
    return Filter(required, alternatives)


class Filter:
    """The conditions of a read's `filter[...]` entries, ANDed, with the `or`-prefixed ones as one group ANDed with
    the rest. Tag conditions keep both of their SQL forms (resource.Carrying) until a query asks for the whole
    condition in one form (`q(form)`: resource.LIST, PROBE or PAGE); pagination.py picks the form of each statement.

    `required` and `alternatives` hold `(condition, negated)` pairs, a condition being a `Q` or a `Carrying`."""

    def __init__(self, required=(), alternatives=()):
        self.required = list(required)
        self.alternatives = list(alternatives)

    def __bool__(self):
        return bool(self.required or self.alternatives)

    def q(self, form):
        """One `Q`, its tag conditions in `form`."""
        def one(condition, negated):
            q = condition.q(form) if isinstance(condition, Carrying) else condition
            return negate(q) if negated else q

        combined = Q()
        for condition in self.required:
            combined &= one(*condition)
        if self.alternatives:
            group = Q()
            for condition in self.alternatives:
                group |= one(*condition)
            combined &= group
        return combined


def split_prefixes(parameter, segments):
    prefixes = []
    while segments and segments[0] in PREFIXES:
        if segments[0] in prefixes:
            raise invalid_filter(parameter, f"'{segments[0]}' may appear only once in a filter key")
        prefixes.append(segments[0])
        segments = segments[1:]
    if not segments or not segments[0]:
        raise invalid_filter(parameter, "Filter keys name an attribute: filter[ATTR] or filter[ATTR][OP]")
    if len(segments) > 2:
        raise invalid_filter(parameter, "Filter keys have the form filter[ATTR] or filter[ATTR][OP]")
    return prefixes, segments


def negate(q):
    """The exact complement of `q`: a condition that is NULL for a row (e.g. a comparison on a
    NULL computed value) counts as false, so its negation holds there."""
    return Q(Exact(Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField()), False))


def condition_q(resource, parameter, segments, value, annotations):
    name, op = segments[0], (segments[1] if len(segments) > 1 else "eq")
    if name == "tags" and resource.tags:
        return tags_q(resource, parameter, op, value)
    if name.startswith("metadata.") and resource.metadata:
        return metadata_q(resource, parameter, name.removeprefix("metadata."), op, value)
    attribute = resource.attributes.get(resource.resolve(name)) or resource.filter_only.get(name)
    if attribute is None:
        raise invalid_filter(parameter, f"Unknown attribute '{name}' for {resource.type} filters")
    if not attribute.filterable:
        raise invalid_filter(parameter, f"Attribute '{name}' cannot be filtered")
    check_operator(parameter, op, attribute.type.operators, f"{attribute.type.name} attribute '{name}'")
    parsed = parse_value(parameter, op, value, attribute.type.parse)
    if attribute.expression is not None:
        annotations[attribute.path] = attribute.expression
    q = attribute.type.q(attribute.path, op, parsed)
    if attribute.many:  # a subquery, so that a row matching through several links is listed once
        return Q(pk__in=resource.model._default_manager.filter(q).values("pk"))
    return q


def check_operator(parameter, op, allowed, what):
    if op not in OPERATORS:
        raise invalid_filter(parameter, f"Unknown filter operator '{op}'")
    if op not in allowed:
        raise APIError(400, "unsupported_operation", f"Operator '{op}' does not apply to {what}", parameter=parameter)


def parse_value(parameter, op, value, parse):
    try:
        if op == "not_null":
            return parse_boolean(value)
        if op in TEXT_OPS:
            return value  # a fragment, not a whole value of the type (e.g. of an enum)
        if op in SET_OPS:
            items = [parse(item) for item in value.split(",")] if value else []
            if not items:
                raise ValueError("expected a comma-separated list of values")
            return items
        return parse(value)
    except ValueError as exc:
        raise invalid_filter(parameter, f"Cannot read '{value}': {exc}") from None


# Tag conditions expected to hold for at least this share of the rows, whose list would hold at least this many
# link rows, are probed per row in pages read in an index's order (resource.Carrying.probe_pays, the PAGE form); a
# shorter list costs less to build (~2 ms) than the probes can save where the planner reads another index first.
PROBE_FROM_SHARE = 0.05
PROBE_FROM_LINKS = 5000


def tags_q(resource, parameter, op, value):
    """any / all / none of the listed tags, compared case-insensitively (D3): a `resource.Carrying` with both SQL
    forms of the condition, or a plain `Q` where unknown tags decide it (NOTHING, EVERYTHING)."""
    if op not in TAG_OPS:
        raise APIError(
            400, "invalid_tag_filter", f"Tag filters accept 'any', 'all' or 'none', not '{op}'", parameter=parameter
        )
    names = {fold_tag_name(name.strip()) for name in value.split(",") if name.strip()}
    if not names:
        raise invalid_filter(parameter, "Tag filters take a comma-separated list of tag names")
    relationship = resource.relationships[resource.tags]
    # Resolved to their stored spelling up front (one small query on tags.folded), so each
    # condition is a plain `tag_name IN (...)` answered by the link table's covering index.
    tag_model = relationship.through._meta.get_field("tag").related_model
    # With their link counts (tag_usage) and the entity table's rows (row_count_slots): pages probe row by row where
    # many rows match (resource.Carrying.probe_pays).
    rows = list(tag_model._default_manager.filter(folded__in=names).order_by()
                .annotate(link_rows=usage(tag_model, relationship.through._meta.db_table),
                          entities=rows_of(resource.model._meta.db_table))
                .values_list("folded", "name", "link_rows", "entities"))
    stored = {folded: name for folded, name, _, _ in rows}
    link_rows = {name: count for _, name, count, _ in rows}
    entities = (rows[0][3] if rows else None) or 1  # the same for every tag row
    tag_in = f"{relationship.target_key}__in"

    def carrying(through_filter, share, links):
        """Rows with link rows matching through_filter, in both forms (resource.Carrying); `share`: the expected
        share of rows that have them, `links`: the link rows of their list."""
        return relationship.carrying(through_filter, probe_pays=share >= PROBE_FROM_SHARE and links >= PROBE_FROM_LINKS)

    links = sum(link_rows.values())
    listed = min(1.0, links / entities)  # share of the rows carrying any of the tags (at most)
    if op == "any":
        return carrying(Q(**{tag_in: list(stored.values())}), listed, links) if stored else NOTHING
    if op == "none":
        return ~carrying(Q(**{tag_in: list(stored.values())}), 1 - listed, links) if stored else EVERYTHING
    if len(stored) < len(names):
        return NOTHING  # an unknown tag is carried by nothing
    # all: the rarest tag's link rows, each probed in the link table's (entity, tag) index for the entity's other
    # tags, so the list holds only the rows carrying all of them
    rarest, *others = sorted(stored.values(), key=lambda name: (link_rows[name], name))
    through_filter = Q(**{relationship.target_key: rarest})
    for name in others:
        through_filter &= Q(Exists(relationship.sibling_links(Q(**{relationship.target_key: name}))))
    share = 1.0
    for name in stored.values():  # as if the tags were independent
        share *= min(1.0, link_rows[name] / entities)
    return carrying(through_filter, share, link_rows[rarest])


class MetadataKeyFunc(Func):
    """One top-level key of a JSON column: SQLite's JSON functions, PostgreSQL's jsonb operators.

    The key is written into the SQL as a literal, not bound: a database matches an expression index
    (core/jsonapi/metadata_indexes.py) only to the same expression with the same constant. Keys are
    `[A-Za-z0-9_]{1,64}` (checked here too), so the literal needs no escaping."""

    def __init__(self, column, key, **extra):
        if not METADATA_KEY_RE.fullmatch(key):
            raise ValueError(f"Not a metadata key: {key!r}")
        super().__init__(column, Value(key), **extra)

    def as_sqlite(self, compiler, connection, **extra):
        column, key = self.get_source_expressions()
        column_sql, params = compiler.compile(column)
        return self.sqlite_template % column_sql % f"""'$."{key.value}"'""", params

    def as_postgresql(self, compiler, connection, **extra):
        column, key = self.get_source_expressions()
        column_sql, params = compiler.compile(column)
        return self.postgresql_template.replace("%(column)s", column_sql).replace("%s", f"'{key.value}'"), params


class JSONExtract(MetadataKeyFunc):
    """The key's value as a number (output FloatField, numbers only on PostgreSQL) or text."""

    sqlite_template = "JSON_EXTRACT(%s, %%s)"

    @property
    def postgresql_template(self):
        if isinstance(self.output_field, FloatField):  # CASE: text is never cast to a number
            return "CASE WHEN jsonb_typeof(%(column)s -> %s) = 'number' THEN (%(column)s ->> %s)::double precision END"
        return "(%(column)s ->> %s)"


class JSONType(MetadataKeyFunc):
    """The key's JSON type in SQLite's words (integer, real, text, true, false, null, array,
    object; PostgreSQL says real for every number); NULL when the key is missing."""

    output_field = CharField()
    sqlite_template = "JSON_TYPE(%s, %%s)"
    postgresql_template = (
        "CASE jsonb_typeof(%(column)s -> %s) WHEN 'number' THEN 'real' WHEN 'string' THEN 'text'"
        " WHEN 'boolean' THEN (%(column)s ->> %s) ELSE jsonb_typeof(%(column)s -> %s) END"
    )


class JSONSortKey(MetadataKeyFunc):
    """The key's value ordered like SQLite orders JSON_EXTRACT: numbers (true = 1, false = 0)
    before text, NULL when missing or null. On PostgreSQL a jsonb [class, value] pair, built from
    IMMUTABLE functions and constants only (`||`, casts, replace), so an expression index can hold it
    (metadata_indexes.py); arrays and objects sort by their JSON text, a string made by escaping it."""

    output_field = TextField()
    sqlite_template = "JSON_EXTRACT(%s, %%s)"
    _json_text_as_string = r"""('[1, "' || replace(replace((%(column)s -> %s)::text, '\', '\\'), '"', '\"') || '"]')::jsonb"""
    postgresql_template = (
        "CASE jsonb_typeof(%(column)s -> %s)"
        " WHEN 'number' THEN '[0]'::jsonb || (%(column)s -> %s)"
        " WHEN 'boolean' THEN CASE WHEN (%(column)s ->> %s) = 'true' THEN '[0, 1]'::jsonb ELSE '[0, 0]'::jsonb END"
        " WHEN 'string' THEN '[1]'::jsonb || (%(column)s -> %s)"
        f" WHEN 'array' THEN {_json_text_as_string}"
        f" WHEN 'object' THEN {_json_text_as_string} END"
    )


def metadata_value(resource, key, output_field):
    return JSONExtract(F(resource.metadata), key, output_field=output_field)


def metadata_q(resource, parameter, key, op, value):
    """A condition on one metadata key; the value's type is inferred (number, boolean, else text).

    Each condition first checks the stored JSON type (NULL, so false, for a missing key): an entity
    lacking the key matches only `not_null=false` (and negations)."""
    if not METADATA_KEY_RE.fullmatch(key):
        raise invalid_filter(parameter, "Metadata keys are 1-64 characters of A-Z, a-z, 0-9 and _")
    if op not in OPERATORS:
        raise invalid_filter(parameter, f"Unknown filter operator '{op}'")
    # NULL for a missing key, so false in a condition: `negate` counts NULL as false, and the bare
    # expression matches the (type, value) expression indexes (core/jsonapi/metadata_indexes.py)
    json_type = JSONType(F(resource.metadata), key)
    if op == "not_null":
        present = Q(In(json_type, ["integer", "real", "text", "true", "false", "array", "object"]))
        return present if parse_value(parameter, op, value, None) else negate(present)
    if op in TEXT_OPS:
        lookup = {"contains": IContains, "starts_with": IStartsWith, "ends_with": IEndsWith}[op]
        return Q(Exact(json_type, "text")) & Q(lookup(metadata_value(resource, key, TextField()), value))
    items = value.split(",") if op in SET_OPS else [value]
    if op in COMPARISON_OPS:
        number = inferred_number(value)
        if number is None:
            raise APIError(
                400, "unsupported_operation", f"Operator '{op}' compares numbers; '{value}' is not a number",
                parameter=parameter,
            )
        lookup = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}[op]
        return Q(In(json_type, ["integer", "real"])) & Q(lookup(metadata_value(resource, key, FloatField()), number))
    matches = Q()
    for item in items:
        matches |= metadata_equals(resource, key, json_type, item)
    if op == "not_in":
        return Q(In(json_type, ["integer", "real", "text", "true", "false"])) & negate(matches)
    return matches if items else NOTHING


def inferred_number(text):
    try:
        return parse_number(text)
    except ValueError:
        return None


def metadata_equals(resource, key, json_type, text):
    number = inferred_number(text)
    if number is not None:
        return Q(In(json_type, ["integer", "real"])) & Q(Exact(metadata_value(resource, key, FloatField()), number))
    try:
        return Q(Exact(json_type, "true" if parse_boolean(text) else "false"))
    except ValueError:
        return Q(Exact(json_type, "text")) & Q(Exact(metadata_value(resource, key, TextField()), text))


def metadata_order(resource, key):
    """Sort expression for metadata.KEY."""
    return JSONSortKey(F(resource.metadata), key)
