"""Attribute value types: how a query value parses, which operators fit, how a value renders.

Operators (query-protocol.md §2) build Django `Q` objects on an ORM path (a field name or an
annotation alias); a type refuses to parse a value by raising `ValueError`.
"""

import re
from datetime import datetime, timedelta, timezone

from django.db.models import Q

from core.prompt_search import last_is_prefix, query_words

COMPARISON_OPS = frozenset({"gt", "gte", "lt", "lte"})
TEXT_OPS = frozenset({"contains", "starts_with", "ends_with"})
SET_OPS = frozenset({"in", "not_in"})
OPERATORS = frozenset({"eq", "not_null"}) | COMPARISON_OPS | TEXT_OPS | SET_OPS
TAG_OPS = ("any", "all", "none")

LOOKUPS = {
    "eq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte",
    # SQLite's LIKE ignores ASCII case anyway; say so explicitly
    "contains": "icontains", "starts_with": "istartswith", "ends_with": "iendswith",
}

INT64 = 2**63
INTEGER_RE = re.compile(r"^[+-]?\d{1,20}$")
NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
NOTHING = Q(pk__in=[])
EVERYTHING = Q(pk__isnull=False)  # a condition every row meets (unlike Q(), it survives | and negation)


def parse_boolean(text):
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError("expected true or false")
    return lowered == "true"


def parse_integer(text):
    text = text.strip()
    if not INTEGER_RE.fullmatch(text) or not -INT64 <= int(text) < INT64:
        raise ValueError("expected an integer")
    return int(text)


def parse_number(text):
    text = text.strip()
    if not NUMBER_RE.fullmatch(text):
        raise ValueError("expected a number")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("expected a finite number")
    return value


def parse_timestamp(text):
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("expected an ISO 8601 timestamp such as 2025-03-14T09:26:53Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before or after every instant Python (so a row) holds
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=timezone.utc)


def render_timestamp(value):
    """`YYYY-MM-DDTHH:MM:SSZ` in UTC (isoformat, which is several times faster than strftime, where the year has
    four digits)."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    if value.year < 1000:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat(timespec="seconds")[:19] + "Z"


class ValueType:
    """Base type: equality, set membership and not_null.

    `schema` is the JSON Schema of one query value (`filter[ATTR]=V`, `[gt]`, ...); `item_pattern`, a regular
    expression for one item of an `in`/`not_in` list (None: any non-empty text). Both say no more than `parse`
    accepts (the OpenAPI schema's filter parameters, core/jsonapi/filters.py)."""

    name = "value"
    operators = frozenset({"eq", "in", "not_in", "not_null"})
    item_pattern = None

    def schema(self):
        return {"type": "string"}

    def parse(self, text):
        return text

    def render(self, value):
        return value

    def q(self, path, op, value):
        """The condition `path OP value`; `value` is parsed (a list for in/not_in)."""
        if op == "not_null":
            return Q(**{f"{path}__isnull": not value})
        if op == "in":
            return Q(**{f"{path}__in": value})
        if op == "not_in":
            return ~Q(**{f"{path}__in": value})
        return Q(**{f"{path}__{LOOKUPS[op]}": value})


class Text(ValueType):
    name = "string"
    operators = ValueType.operators | TEXT_OPS


class Words(Text):
    """Free text whose `contains` is a word search (core/prompt_search.py): every word of the value is a word of the
    text, the last one a word's start if the value ends in it, any case. `match(words, prefix)` is the `Q` of the
    rows that hold `words`, the last one as a prefix if `prefix`; `substring(value)`, of the rows whose text holds
    `value` (a value without a word: only punctuation). `operators`: those it takes (the others mean what Text's
    do)."""

    def __init__(self, match, substring, operators=Text.operators):
        self.match, self.substring, self.operators = match, substring, frozenset(operators)

    def q(self, path, op, value):
        if op != "contains":
            return super().q(path, op, value)
        words = query_words(value)
        if words:
            return self.match(words, last_is_prefix(value))
        # no stored prompt holds NUL (free text, core/text.py), and PostgreSQL refuses it in a parameter
        return NOTHING if "\x00" in value else self.substring(value)


class Enum(Text):
    """Text restricted to a fixed vocabulary; other values do not parse."""

    def __init__(self, choices):
        self.choices = tuple(choices)
        self.item_pattern = "(?:" + "|".join(map(re.escape, self.choices)) + ")"

    def schema(self):
        return {"type": "string", "enum": list(self.choices)}

    def parse(self, text):
        if text not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}")
        return text


class Integer(ValueType):
    name = "integer"
    operators = ValueType.operators | COMPARISON_OPS
    item_pattern = r"[+-]?\d{1,18}"  # fewer digits than parse_integer takes: always within int64

    def schema(self):
        return {"type": "integer", "format": "int64", "minimum": -INT64, "maximum": INT64 - 1}

    def parse(self, text):
        return parse_integer(text)


class Number(ValueType):
    name = "number"
    operators = ValueType.operators | COMPARISON_OPS
    item_pattern = r"[+-]?(?:\d{1,15}(?:\.\d{0,15})?|\.\d{1,15})(?:[eE][+-]?\d{1,2})?"  # always finite

    def schema(self):
        return {"type": "number"}

    def parse(self, text):
        return parse_number(text)


class Boolean(ValueType):
    name = "boolean"
    item_pattern = "(?:true|false)"

    def schema(self):
        return {"type": "boolean"}

    def parse(self, text):
        return parse_boolean(text)


class Timestamp(ValueType):
    """Timestamps compare as rendered, i.e. to the whole second.

    A stored 09:26:53.417 shows as 09:26:53Z, so `eq 09:26:53Z` must match it: every operator
    compares the truncated stored second s with the query instant t.
    """

    name = "timestamp"
    operators = ValueType.operators | COMPARISON_OPS
    item_pattern = (r"[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                    r"(?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])")

    def schema(self):
        return {"type": "string", "format": "date-time"}

    def parse(self, text):
        return parse_timestamp(text)

    def render(self, value):
        return render_timestamp(value)

    def q(self, path, op, value):
        if op == "not_null":
            return super().q(path, op, value)
        if op in ("in", "not_in"):
            member = Q()
            for instant in value:
                member |= self.q(path, "eq", instant)
            member = member if value else NOTHING
            return member if op == "in" else ~member
        floor = value.replace(microsecond=0)
        try:
            after = floor + timedelta(seconds=1)
        except OverflowError:  # the last second of year 9999
            after = datetime.max.replace(tzinfo=timezone.utc)
        ceil = floor if floor == value else after
        if op == "eq":
            return Q(**{f"{path}__gte": floor, f"{path}__lt": after}) if floor == value else NOTHING
        return {
            "gt": Q(**{f"{path}__gte": after}),  # s > t  <=> s >= floor(t) + 1
            "gte": Q(**{f"{path}__gte": ceil}),  # s >= t <=> s >= ceil(t)
            "lt": Q(**{f"{path}__lt": ceil}),  # s < t  <=> s <= ceil(t) - 1
            "lte": Q(**{f"{path}__lt": after}),  # s <= t <=> s <= floor(t)
        }[op]


class JSONObject(ValueType):
    """A free-form object (`metadata`): rendered as is, reached in queries through metadata.KEY."""

    name = "object"
    operators = frozenset()

    def render(self, value):
        return value if value is not None else {}


TEXT = Text()
INTEGER = Integer()
NUMBER = Number()
BOOLEAN = Boolean()
TIMESTAMP = Timestamp()
OBJECT = JSONObject()
