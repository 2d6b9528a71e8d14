"""Declarative resource descriptions: each entity type is declared once, the engine does the rest.

A `Resource` subclass (in `<app>/api/resources.py`) names its JSON:API type, ORM model,
attributes, relationships, include paths and default sort. Subclasses register themselves by
type name, so relationships refer to their target by name and no app imports another's
resources.
"""

import re

from django.db.models import Exists, Func, IntegerField, OuterRef, Q, Subquery
from django.utils.module_loading import autodiscover_modules

from .types import OBJECT, ValueType

_registry = {}


def resource_for(type_name):
    """The Resource class declared for a JSON:API type name."""
    if type_name not in _registry:
        autodiscover_modules("api.resources")
    return _registry[type_name]


def all_type_names():
    autodiscover_modules("api.resources")
    return set(_registry)


class Attribute:
    """An attribute: its value type, where its value comes from, and whether it filters/sorts.

    `source` is a model field name (default: the attribute's own name); `expression` is an ORM
    expression computed per row instead (annotated under an `api_` alias). `many`: the source path
    crosses a to-many relation (filter-only): a row matches, once, when any of its values does.
    """

    def __init__(self, value_type, *, source=None, expression=None, filter=True, sort=True, many=False):
        self.type = value_type
        self.source = source
        self.expression = expression
        self.many = many
        self.filterable = filter and bool(value_type.operators)
        self.sortable = sort and value_type is not OBJECT
        self.name = None

    def bind(self, name):
        self.name = name
        if self.expression is not None:
            self.path = f"api_{name}"
        else:
            self.path = self.source or name
        return self

    def value(self, instance):
        return self.type.render(getattr(instance, self.path))

    def reader(self):
        """(name, path, render) for document building; render None where the value is shown as it is."""
        render = self.type.render
        return self.name, self.path, None if getattr(render, "__func__", None) is ValueType.render else render


class CountAll(Func):
    """COUNT(*) as a plain expression, so a counting subquery needs no GROUP BY."""

    template = "COUNT(*)"
    output_field = IntegerField()


def link_count(through, field):
    """Per row: how many `through` rows point at it with `field` (a correlated COUNT(*))."""
    links = through._default_manager.filter(**{field: OuterRef("pk")}).order_by().annotate(n=CountAll()).values("n")
    return Subquery(links, output_field=IntegerField())


class ToOne:
    """A to-one relationship held by a foreign key on the resource's own row.

    `omit_null`: leave the relationship out of the resource object when it is empty."""

    many = False

    def __init__(self, target, field, *, omit_null=False):
        self.target = target
        self.field = field
        self.omit_null = omit_null

    def bind(self, name, model):
        self.name = name
        self.attname = model._meta.get_field(self.field).attname
        return self


class ToMany:
    """A to-many relationship read from link rows (`through`), one query per page.

    `source` is the link row's foreign key to this resource, `target` the path to the related
    row's primary key, `id_columns` the link columns that make up the related resource's id
    (default: the target key alone), `order_by` the order of the linkage. `keyed_by` =
    (row field, link field): the integer keys that conditions on the links compare instead of the
    primary key and the foreign key (core/row_keys.py).
    """

    many = True
    omit_null = False  # a to-many relationship is always shown (an empty list)

    def __init__(self, target, *, through, source, target_key, id_columns=None, order_by=("pk",), keyed_by=None):
        self.target = target
        self.through = through
        self.source = source
        self.target_key = target_key
        self.id_columns = tuple(id_columns or (target_key,))
        self.order_by = tuple(order_by)
        self.keyed_by = keyed_by

    def bind(self, name, model):
        self.name = name
        self.source_attname = self.through._meta.get_field(self.source).attname
        self.row_key, self.link_key = self.keyed_by or ("pk", self.source_attname)
        self._links = None  # links(): the ordered values_list, built on first use
        return self

    def links(self, source_pks):
        """Link rows for these source rows: (source pk, target pk, *id columns), in linkage order (the ordered
        values_list is built once per process, the filter per call)."""
        if self._links is None:
            self._links = (self.through._default_manager.order_by(*self.order_by)
                           .values_list(self.source_attname, self.target_key, *self.id_columns))
        return self._links.filter(**{f"{self.source}__in": source_pks})

    def carrying(self, through_filter, probe_pays=False):
        """Rows with link rows matching through_filter, in both SQL forms (`Carrying`); `probe_pays`: probing the
        rows of a page in an index's order costs less than listing every match (filtering.tags_q)."""
        links = self.through._default_manager.filter(through_filter)
        if self.keyed_by:  # never a NULL in the list: `NOT IN` a list holding one matches nothing
            links = links.filter(**{f"{self.link_key}__isnull": False})
        listed = Q(**{f"{self.row_key}__in": links.values(self.link_key)})
        return Carrying(listed, Q(Exists(self.own_links(through_filter))), probe_pays)

    def own_links(self, through_filter):
        """The row's own link rows matching through_filter (for a correlated EXISTS)."""
        return self.through._default_manager.filter(through_filter, **{self.link_key: OuterRef(self.row_key)})

    def sibling_links(self, through_filter):
        """Link rows matching through_filter of the same row as the link row of the enclosing query (an EXISTS
        inside a `through_filter`: "this link's row also has ...")."""
        return self.through._default_manager.filter(through_filter, **{self.link_key: OuterRef(self.link_key)})


# How a query asks for its tag conditions (`Carrying.q`, filtering.Filter.q): every one as its list, every one as
# per-row probes, or the page form: probes where they pay, lists elsewhere (pagination.py picks per statement).
LIST, PROBE, PAGE = "list", "probe", "page"


class Carrying:
    """Whether a row has matching link rows, in both of its SQL forms; the query that uses it picks one (`q`).

    - `listed`: `key IN (SELECT source key FROM link WHERE ...)`: the list is built once from the link table's
      covering index, a pass over the matches. What a count (any whole read) needs.
    - `probed`: `EXISTS (SELECT 1 FROM link WHERE source = row AND ...)`: rows are read in the sort index's order
      and probed one by one until the page is full, instead of first listing every match (~170 ms for 45,000
      text keys at 100k images). Only for rows read in an index's order (or in none, as for a capped count):
      sorted by an unindexed column, every row would be probed.

    `probe_pays`: the condition holds for many rows and its list would be long (filtering.tags_q), so the page form
    (`PAGE`) probes it; otherwise even a page lists it. `~` negates both forms. Used for tag conditions."""

    def __init__(self, listed, probed, probe_pays=False):
        self.listed = listed
        self.probed = probed
        self.probe_pays = probe_pays

    def q(self, form):
        """The condition in `form`: LIST, PROBE, or PAGE (probed where that pays, else listed)."""
        if form not in (LIST, PROBE, PAGE):
            raise ValueError(f"Unknown form of a tag condition: {form!r}")
        return self.probed if form == PROBE or (form == PAGE and self.probe_pays) else self.listed

    def __invert__(self):
        return Carrying(~self.listed, ~self.probed, self.probe_pays)


class Resource:
    """Base declaration; subclasses set the class attributes below."""

    type = None  # JSON:API type name
    model = None  # ORM model
    id_fields = ("pk",)  # fields joined with ":" to make the public id
    id_pattern = None  # regex a well-formed public id matches (others are simply not found)
    attributes = {}  # name -> Attribute
    filter_only = {}  # name -> Attribute usable only in filter[...]
    aliases = {}  # alternative name -> attribute name (filter, sort, fields)
    relationships = {}  # name -> ToOne / ToMany
    include_paths = ()  # accepted `include` paths
    default_sort = ("-created_at",)
    tags = None  # name of the ToMany relationship holding tags, enabling tag filters and tag_count
    metadata = None  # name of the JSON field holding free-form metadata (metadata.KEY)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.type is None:
            return
        cls.attributes = {name: attr.bind(name) for name, attr in cls.attributes.items()}
        cls.filter_only = {name: attr.bind(name) for name, attr in cls.filter_only.items()}
        cls.relationships = {name: rel.bind(name, cls.model) for name, rel in cls.relationships.items()}
        cls.fields = set(cls.attributes) | set(cls.relationships)
        cls._id_re = re.compile(cls.id_pattern) if cls.id_pattern else None
        cls._querysets = {}  # queryset(): {frozenset of names or None: the annotated queryset}
        # public_id of a one-field id: the column's attribute itself, not `pk` (a property) and no join
        cls._id_attname = None
        if len(cls.id_fields) == 1:
            field = cls.model._meta.pk if cls.id_fields[0] == "pk" else cls.model._meta.get_field(cls.id_fields[0])
            cls._id_attname = field.attname
        _registry[cls.type] = cls

    @classmethod
    def computed(cls, names=None):
        """{annotation alias: expression} for the computed attributes among `names` (None: all)."""
        return {
            attr.path: attr.expression
            for attr in (*cls.attributes.values(), *cls.filter_only.values())
            if attr.expression is not None and (names is None or attr.name in names)
        }

    @classmethod
    def queryset(cls, names=None, extra=None):
        """All rows, with the computed attributes among `names` (None: all) and `extra` annotated.

        Without `extra` the annotated queryset is built once per process and set of names, and a copy of it
        returned (resolving the computed attributes' subqueries is most of the cost of building it)."""
        if extra:
            return cls.model._default_manager.annotate(**cls.computed(names), **extra)
        key = None if names is None else frozenset(names)
        built = cls._querysets.get(key)
        if built is None:
            built = cls._querysets[key] = cls.model._default_manager.annotate(**cls.computed(names))
        return built.all()

    @classmethod
    def public_id(cls, instance):
        if cls._id_attname is not None:
            return str(getattr(instance, cls._id_attname))
        return ":".join(str(getattr(instance, field)) for field in cls.id_fields)

    @classmethod
    def id_q(cls, public_id):
        """The lookup for one public id, or None when the id is malformed."""
        if cls._id_re is not None and not cls._id_re.fullmatch(public_id):
            return None
        parts = public_id.split(":")
        if len(parts) != len(cls.id_fields):
            return None
        return Q(**dict(zip(cls.id_fields, parts)))

    @classmethod
    def resolve(cls, name):
        """The attribute name an alias stands for."""
        return cls.aliases.get(name, name)
