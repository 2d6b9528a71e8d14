"""Maintained counts: database triggers keep `<entity>.tag_count` and `tag_usage` equal to the link rows, and
`row_count_slots` equal to the number of rows of the entity tables (exact unfiltered totals without a COUNT).

Every write path (the update engine, bulk_create, cascades, the admin, raw SQL) goes through the link
tables, so the counts are kept by triggers on those tables, one mechanism on both databases (D40):
a link insert adds 1 to its entity's `tag_count` and to the (tag, link table) row of `tag_usage`, a
delete subtracts 1, an update of either key moves the count. SQLite runs row-level triggers;
PostgreSQL statement-level ones over the statement's transition tables (one UPDATE per entity and
one upsert per tag per statement). The counters are updated in the writing transaction, so they
commit or roll back with the links; on PostgreSQL the row lock that `UPDATE ... SET n = n + d` takes
makes concurrent writers add up instead of overwriting each other. TRUNCATE fires no trigger:
truncate a link table together with `tag_usage` and reset the entities' counts (Django's test
`flush` truncates every table, so it stays consistent).

The link counts and the row counts are trigger sets (core/triggers.py), installed by migrations in frozen,
versioned SQL: a migration that remakes a link or entity table on SQLite (Django copies the table) must install
its set again, since triggers live on their table, and `migrate` repairs any set whose triggers are missing or
differ from the version installed. The classes here write the SQL of a set's next version (`freeze_triggers`).
"""

from dataclasses import dataclass

from django.db import connection, migrations, models
from django.db.models.expressions import RawSQL

from core.triggers import TriggerSet, install_step

# PostgreSQL: a transaction writing tag links holds this advisory lock until it ends, so tag writers take
# turns (as every writer does on SQLite) and the shared `tag_usage` rows are never locked in opposite
# orders by two transactions. The write paths take it first, before any row lock (core/writes.py
# `write_transaction(..., tags=True)`), so it never closes a wait cycle; the triggers' request is then a no-op.
TAG_WRITERS_LOCK = 7_246_512_001


@dataclass(frozen=True)
class CountedLink:
    """A tag link table (`link`, foreign key column `column`) and the entity table it counts on."""

    link: str
    column: str
    entity: str
    entity_key: str


def _sqlite_sql(c: CountedLink):
    plus = (f"UPDATE {c.entity} SET tag_count = tag_count + 1 WHERE {c.entity_key} = NEW.{c.column}; "
            f"INSERT INTO tag_usage (tag_name, link, uses) VALUES (NEW.tag_name, '{c.link}', 1) "
            f"ON CONFLICT (tag_name, link) DO UPDATE SET uses = uses + 1;")
    minus = (f"UPDATE {c.entity} SET tag_count = tag_count - 1 WHERE {c.entity_key} = OLD.{c.column}; "
             f"UPDATE tag_usage SET uses = uses - 1 WHERE tag_name = OLD.tag_name AND link = '{c.link}';")
    return [
        f"CREATE TRIGGER {c.link}_count_insert AFTER INSERT ON {c.link} BEGIN {plus} END",
        f"CREATE TRIGGER {c.link}_count_delete AFTER DELETE ON {c.link} BEGIN {minus} END",
        f"CREATE TRIGGER {c.link}_count_update AFTER UPDATE OF tag_name, {c.column} ON {c.link} "
        f"BEGIN {minus} {plus} END",
    ]


def _postgresql_sql(c: CountedLink):
    """Statement-level triggers over the transition tables: one UPDATE per entity and one upsert per tag for
    each statement, however many links it writes (a row-level UPDATE would make a row version per link)."""

    def change(rows, sign):
        return f"""
            UPDATE {c.entity} e SET tag_count = e.tag_count {sign} d.n
                FROM (SELECT {c.column} AS k, COUNT(*) AS n FROM {rows} GROUP BY 1) d WHERE e.{c.entity_key} = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, '{c.link}', {sign}COUNT(*) FROM {rows} GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;"""

    bodies = {"insert": change("new_rows", "+"), "delete": change("old_rows", "-"),
              "update": change("old_rows", "-") + change("new_rows", "+")}
    transitions = {"insert": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows",
                   "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}
    statements = []
    for op, body in bodies.items():
        statements += [
            f"""CREATE OR REPLACE FUNCTION {c.link}_count_{op}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock({TAG_WRITERS_LOCK});{body}
                RETURN NULL;
            END $$""",
            f"CREATE TRIGGER {c.link}_count_{op} AFTER {op.upper()} ON {c.link} REFERENCING {transitions[op]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {c.link}_count_{op}()",
        ]
    return statements


class LinkCounts(TriggerSet):
    """`tag_count` of the entities and `tag_usage` of the tags, kept by triggers on one link table."""

    def __init__(self, counted: CountedLink):
        self.counted = counted
        self.name = f"link_counts:{counted.link}"

    def triggers(self, vendor):
        return [(self.counted.link, f"{self.counted.link}_count_{op}") for op in ("insert", "delete", "update")]

    def backfill_sql(self, vendor):
        """Counts of the rows already there (a library migrated in place)."""
        c = self.counted
        return [
            f"UPDATE {c.entity} SET tag_count = (SELECT COUNT(*) FROM {c.link} WHERE {c.link}.{c.column} = "
            f"{c.entity}.{c.entity_key})",
            f"DELETE FROM tag_usage WHERE link = '{c.link}'",
            f"INSERT INTO tag_usage (tag_name, link, uses) SELECT tag_name, '{c.link}', COUNT(*) FROM {c.link} "
            f"GROUP BY tag_name",
        ]

    def create_sql(self, vendor):
        return _sqlite_sql(self.counted) if vendor == "sqlite" else _postgresql_sql(self.counted)


class TagUsageDelete(TriggerSet):
    """A deleted tag's `tag_usage` rows go with it (its links are deleted first, by Django's cascade, which counts
    them down)."""

    name = "tag_usage_delete:tags"

    def triggers(self, vendor):
        return [("tags", "tags_usage_delete")]

    def backfill_sql(self, vendor):
        return []

    def create_sql(self, vendor):
        if vendor == "sqlite":
            return ["CREATE TRIGGER tags_usage_delete AFTER DELETE ON tags "
                    "BEGIN DELETE FROM tag_usage WHERE tag_name = OLD.name; END"]
        return ["""CREATE OR REPLACE FUNCTION tags_usage_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM tag_usage WHERE tag_name = OLD.name; RETURN NULL; END $$""",
                "CREATE TRIGGER tags_usage_delete AFTER DELETE ON tags FOR EACH ROW EXECUTE FUNCTION tags_usage_delete()"]


def usage(tag_model, link_table: str):
    """Per tag row: how many rows of `link_table` carry it (its `tag_usage` row, else 0), as an ORM expression."""
    return RawSQL(f"COALESCE((SELECT uses FROM tag_usage WHERE tag_usage.tag_name = {tag_model._meta.db_table}.name "
                  f"AND tag_usage.link = %s), 0)", [link_table], output_field=models.IntegerField())


ROWS_SQL = "(SELECT CAST(SUM(row_total) AS BIGINT) FROM row_count_slots WHERE table_name = %s)"


def rows_of(table: str):
    """The maintained number of rows of `table` (the sum of its `row_count_slots` rows, else NULL), as an ORM
    expression."""
    return RawSQL(ROWS_SQL, [table], output_field=models.BigIntegerField())


def table_rows(table: str):
    """The maintained number of rows of `table`, or None where it is not counted."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {ROWS_SQL}", [table])
        return cursor.fetchone()[0]


# --- rows per entity table ---------------------------------------------------------------------

# PostgreSQL: a table's row count is spread over this many rows of `row_count_slots` (summed on read). A
# transaction adds its rows to the slot of its connection (backend pid modulo SLOTS), so concurrent writers lock
# different rows instead of queueing for one until each commits (docs/performance.md). SQLite has one writer at a
# time: slot 0 only.
SLOTS = 16


def _row_sql(vendor, table):
    """Inserts add to the table's slot (its first row is made by an insert or the backfill); deletes subtract
    only where the table is counted (a delete never makes the first row: a table without one is not counted)."""
    upsert = ("INSERT INTO row_count_slots (table_name, slot, row_total) {rows} ON CONFLICT (table_name, slot) "
              "DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total;")
    if vendor == "sqlite":
        return [f"CREATE TRIGGER {table}_rows_insert AFTER INSERT ON {table} BEGIN "
                + upsert.format(rows=f"VALUES ('{table}', 0, 1)") + " END",
                f"CREATE TRIGGER {table}_rows_delete AFTER DELETE ON {table} BEGIN UPDATE row_count_slots SET "
                f"row_total = row_total - 1 WHERE table_name = '{table}' AND slot = 0; END"]
    counted = f" HAVING EXISTS (SELECT 1 FROM row_count_slots WHERE table_name = '{table}')"
    statements = []
    for op, transition, sign, condition in (("insert", "NEW", "", ""), ("delete", "OLD", "-", counted)):
        rows = f"{transition.lower()}_rows"
        change = f"SELECT '{table}', pg_backend_pid() % {SLOTS}, {sign}COUNT(*) FROM {rows}{condition}"
        statements += [
            f"""CREATE OR REPLACE FUNCTION {table}_rows_{op}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {upsert.format(rows=change)}
            RETURN NULL;
        END $$""",
            f"CREATE TRIGGER {table}_rows_{op} AFTER {op.upper()} ON {table} REFERENCING {transition} TABLE AS {rows} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_rows_{op}()",
        ]
    return statements


class RowCounts(TriggerSet):
    """The number of rows of one entity table in `row_count_slots`, kept by triggers on it."""

    def __init__(self, table: str):
        self.table = table
        self.name = f"row_counts:{table}"

    def triggers(self, vendor):
        return [(self.table, f"{self.table}_rows_{op}") for op in ("insert", "delete")]

    def backfill_sql(self, vendor):
        return [f"DELETE FROM row_count_slots WHERE table_name = '{self.table}'",
                f"INSERT INTO row_count_slots (table_name, slot, row_total) SELECT '{self.table}', 0, COUNT(*) "
                f"FROM {self.table}"]

    def create_sql(self, vendor):
        return _row_sql(vendor, self.table)


def counted_entity_operations(model_name: str, counted: CountedLink, view_steps, *, covering_created_index=False):
    """The migration steps that give an entity its counts: `tag_count` (indexed for `sort=-tag_count`), the
    triggers of its link table and of its rows, each counted first; `view_steps` = (drop, create) of the
    views reading the table. `covering_created_index` replaces `idx_<table>_created` by `(-created_at, pk)`."""
    table, pk = counted.entity, counted.entity_key
    drop_views, create_views = view_steps
    steps = [
        drop_views,
        migrations.AddField(model_name=model_name, name="tag_count",
                            field=models.IntegerField(default=0, editable=False, serialize=False)),
        migrations.AddIndex(model_name=model_name,
                            index=models.Index(fields=["-tag_count", pk], name=f"idx_{table}_tag_count")),
    ]
    if covering_created_index:  # the default sort with its tie-breaker: deep pages skip ids in the index alone
        steps += [
            migrations.RemoveIndex(model_name=model_name, name=f"idx_{table}_created"),
            migrations.AddIndex(model_name=model_name,
                                index=models.Index(fields=["-created_at", pk], name=f"idx_{table}_created_hash")),
        ]
    # the triggers after any table remake (the SQL these migrations ran when released: version 1)
    return steps + [install_step(f"link_counts:{counted.link}", 1), install_step(f"row_counts:{table}", 1),
                    create_views]
