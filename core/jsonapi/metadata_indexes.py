"""Expression indexes for `metadata.KEY` filters and sorts, for a fixed, configured set of keys.

`settings.SDHOST["METADATA_INDEXES"]` (`SDHOST_METADATA_INDEXES`, default `rating`) names the keys. For
each resource with metadata (models, images) and each key there are two indexes, built from the
engine's own expressions (compiled for the running database), so both SQLite and PostgreSQL match
them to the queries:

- `(JSON type, numeric value)`: a comparison such as `filter[metadata.rating][gte]=4` and its exact
  total are answered from the index alone;
- `(sort key DESC, id)`: `sort=-metadata.KEY` reads its first page from the index (on PostgreSQL the sort
  key is a jsonb [class, value] pair built from immutable functions, filtering.JSONSortKey).

Other keys still work, reading the JSON of every row. Index names are `idx_meta_<table>_<key>_<value|sort>`, the
key shortened and a hash of it added where that would pass PostgreSQL's 63 characters (`index_name`), so
`migrate` finds them under the name it made them with. `sync_metadata_indexes` creates the indexes of
the listed keys and drops those of keys no longer listed; it runs after every `migrate` (post_migrate,
sdhost/apps.py), so changing the setting and running `migrate` applies it.
"""

import hashlib

from django.db import connections
from django.db.models import F, FloatField

from .filtering import JSONExtract, JSONSortKey, JSONType
from .resource import all_type_names, resource_for

PREFIX = "idx_meta_"
NAME_MAX = 63  # PostgreSQL cuts longer identifiers (NAMEDATALEN - 1): a cut name would never match, and be rebuilt


def index_name(table, key, kind):
    """`idx_meta_<table>_<key>_<kind>`; where that is longer than 63 characters or the key has capitals (PostgreSQL
    folds names to lower case), the key is shortened, lower-cased and a hash of it added, so the name is what the
    database reports, unique and the same on every `migrate`."""
    name = f"{PREFIX}{table}_{key}_{kind}"
    if len(name) <= NAME_MAX and key == key.lower():
        return name
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    room = NAME_MAX - len(f"{PREFIX}{table}__{digest}_{kind}")
    return f"{PREFIX}{table}_{key[:room].lower()}_{digest}_{kind}"


def metadata_resources(connection):
    """The resources with metadata whose tables exist (a partial `migrate` may not have made them yet)."""
    tables = set(connection.introspection.table_names())
    resources = [resource_for(name) for name in sorted(all_type_names())]
    return [resource for resource in resources if resource.metadata and resource.model._meta.db_table in tables]


def _expression_sql(resource, expression, schema_editor):
    """`expression` on the resource's table as index SQL: compiled, parameters inlined, columns unqualified
    (SQLite allows no table names in index expressions)."""
    model = resource.model
    query = model._default_manager.all().query
    compiler = query.get_compiler(connection=schema_editor.connection)
    sql, params = compiler.compile(expression.resolve_expression(query))
    sql = sql.replace(f"{schema_editor.quote_name(model._meta.db_table)}.", "")
    return sql % tuple(schema_editor.quote_value(param) for param in params)


def wanted_indexes(schema_editor, keys):
    """{index name: CREATE INDEX statement} for `keys` on every resource with metadata."""
    wanted = {}
    for resource in metadata_resources(schema_editor.connection):
        table = resource.model._meta.db_table
        column = F(resource.metadata)
        pk = schema_editor.quote_name(resource.model._meta.pk.column)
        for key in keys:
            type_sql = _expression_sql(resource, JSONType(column, key), schema_editor)
            value_sql = _expression_sql(resource, JSONExtract(column, key, output_field=FloatField()), schema_editor)
            sort_sql = _expression_sql(resource, JSONSortKey(column, key), schema_editor)
            value_name, sort_name = index_name(table, key, "value"), index_name(table, key, "sort")
            wanted[value_name] = f"CREATE INDEX {value_name} ON {table} (({type_sql}), ({value_sql}))"
            # missing keys sort last (query.parse_sort): SQLite's NULL is the smallest value, PostgreSQL's the largest
            nulls = "" if schema_editor.connection.vendor == "sqlite" else " NULLS LAST"
            wanted[sort_name] = f"CREATE INDEX {sort_name} ON {table} (({sort_sql}) DESC{nulls}, {pk})"
    return wanted


def existing_indexes(connection, tables):
    with connection.cursor() as cursor:
        return {name for table in tables
                for name in connection.introspection.get_constraints(cursor, table) if name.startswith(PREFIX)}


def sync_metadata_indexes(keys, using="default"):
    """Create the indexes of `keys` that are missing, drop those of other keys. Returns (created, dropped)."""
    connection = connections[using]
    with connection.schema_editor() as schema_editor:
        wanted = wanted_indexes(schema_editor, keys)
        existing = existing_indexes(connection, {resource.model._meta.db_table for resource in metadata_resources(connection)})
        created = sorted(set(wanted) - existing)
        dropped = sorted(existing - set(wanted))
        for name in dropped:
            schema_editor.execute(f"DROP INDEX {name}")
        for name in created:
            schema_editor.execute(wanted[name])
        for table in sorted({wanted[name].split(" ON ")[1].split(" ")[0] for name in created}):
            schema_editor.execute(f"ANALYZE {table}")  # statistics for the new expressions: the planner picks them
    return created, dropped
