"""Integer row keys: the tag link tables find their entities by a maintained integer, not the 64-character key.

Every tagged entity table (images, models, tasks) has a `seq` column, an integer unique per row that the database
assigns on insert, and every link row an `entity_seq`, its entity's `seq`, which the database copies on insert.
The public keys (hash, task id) stay the primary keys and the link tables keep their foreign keys to them (the
spec's schema); tag conditions compare the integers instead (core/jsonapi/resource.py, `ToMany(keyed_by=...)`):
a set of 30,000 integers is built and probed several times faster than one of 64-character strings.

Assigned by triggers on both databases, like the counts (core/tag_counts.py), so every write path gets them,
raw SQL included: SQLite sets `seq = MAX(seq) + 1` (a seek on the unique index) after the insert and copies
`entity_seq` after a link's insert; PostgreSQL takes `seq` from a sequence owned by the column (from trigger sets
version 2) and copies `entity_seq` in BEFORE triggers. Neither column is written by Django after an insert
(system_app.models.TagCounted) nor serialized. The migrations install the frozen SQL of a version (core/triggers.py);
`RowKeys` writes the SQL of the next one.
"""

from django.db import migrations, models

from core.tag_counts import CountedLink
from core.triggers import TriggerSet, install_step

ROW_KEYS = ("seq", "entity_seq")  # (entity field, link field): `ToMany(keyed_by=ROW_KEYS)`


def seq_constraint(table):
    """`seq` is unique (a partial index: on SQLite the row is inserted without it, then the trigger sets it)."""
    return models.UniqueConstraint(fields=["seq"], condition=models.Q(seq__isnull=False), name=f"{table}_seq_unique")


def keyed_indexes(table):
    """A link table's indexes for tag conditions: (tag, entity) lists a tag's entities from the index alone,
    (entity, tag) probes one entity's tags."""
    return [models.Index(fields=["tag", "entity_seq"], name=f"idx_{table}_tag_seq"),
            models.Index(fields=["entity_seq", "tag"], name=f"idx_{table}_seq_tag")]


def _sequence_sql(table):
    """PostgreSQL's sequence of `table.seq`, owned by the column: dropped with it, and reported as its sequence
    (pg_get_serial_sequence) to dump and restore tools."""
    return [f"CREATE SEQUENCE IF NOT EXISTS {table}_seq_seq OWNED BY {table}.seq",
            f"ALTER SEQUENCE {table}_seq_seq OWNED BY {table}.seq"]


def _entity_sql(vendor, c: CountedLink):
    table = c.entity
    if vendor == "sqlite":
        return [f"CREATE TRIGGER {table}_seq_insert AFTER INSERT ON {table} WHEN NEW.seq IS NULL BEGIN "
                f"UPDATE {table} SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM {table} WHERE seq IS NOT NULL) "
                f"WHERE rowid = NEW.rowid; END"]
    return [
        *_sequence_sql(table),
        f"SELECT setval('{table}_seq_seq', GREATEST((SELECT MAX(seq) FROM {table}), 0) + 1, false)",
        f"""CREATE OR REPLACE FUNCTION {table}_seq_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.seq IS NULL THEN NEW.seq := nextval('{table}_seq_seq'); END IF;
            RETURN NEW;
        END $$""",
        f"CREATE TRIGGER {table}_seq_insert BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_seq_insert()",
    ]


def _link_sql(vendor, c: CountedLink):
    entity_seq = f"(SELECT seq FROM {c.entity} WHERE {c.entity_key} = NEW.{c.column})"
    if vendor == "sqlite":
        copy = f"UPDATE {c.link} SET entity_seq = {entity_seq} WHERE rowid = NEW.rowid;"
        return [f"CREATE TRIGGER {c.link}_seq_insert AFTER INSERT ON {c.link} BEGIN {copy} END",
                f"CREATE TRIGGER {c.link}_seq_update AFTER UPDATE OF {c.column} ON {c.link} BEGIN {copy} END"]
    return [
        f"""CREATE OR REPLACE FUNCTION {c.link}_seq_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.entity_seq := {entity_seq};
            RETURN NEW;
        END $$""",
        f"CREATE TRIGGER {c.link}_seq_insert BEFORE INSERT OR UPDATE OF {c.column} ON {c.link} FOR EACH ROW "
        f"EXECUTE FUNCTION {c.link}_seq_insert()",
    ]


class RowKeys(TriggerSet):
    """`seq` of one entity table and `entity_seq` of its link table, assigned by triggers."""

    def __init__(self, counted: CountedLink):
        self.counted = counted
        self.name = f"row_keys:{counted.entity}"

    def triggers(self, vendor):
        c = self.counted
        triggers = [(c.entity, f"{c.entity}_seq_insert"), (c.link, f"{c.link}_seq_insert")]
        # PostgreSQL's link trigger also fires on updates of the key; SQLite needs a second one
        return triggers + [(c.link, f"{c.link}_seq_update")] if vendor == "sqlite" else triggers

    def backfill_sql(self, vendor):
        """Keys for the rows already there (a library migrated in place, or rows written while the triggers were
        missing), above every key given so far."""
        c = self.counted
        if vendor == "sqlite":  # the MAX subquery runs once: unique however rows were deleted
            return [f"UPDATE {c.entity} SET seq = rowid + (SELECT COALESCE(MAX(seq), 0) FROM {c.entity} "
                    f"WHERE seq IS NOT NULL) WHERE seq IS NULL",
                    f"UPDATE {c.link} SET entity_seq = (SELECT seq FROM {c.entity} WHERE {c.entity_key} = "
                    f"{c.link}.{c.column}) WHERE entity_seq IS NULL"]
        return [*_sequence_sql(c.entity),
                f"UPDATE {c.entity} SET seq = nextval('{c.entity}_seq_seq') WHERE seq IS NULL",
                f"UPDATE {c.link} l SET entity_seq = e.seq FROM {c.entity} e WHERE e.{c.entity_key} = l.{c.column} "
                f"AND l.entity_seq IS NULL"]

    def create_sql(self, vendor):
        return _entity_sql(vendor, self.counted) + _link_sql(vendor, self.counted)


def _drop_single_column_indexes(table, columns):
    """A migration step dropping the plain one-column indexes on `columns` (Django's foreign key indexes), which
    the composite indexes that lead with those columns make redundant (reverse: create them again)."""

    def drop(apps, schema_editor):
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        for name, info in sorted(constraints.items()):
            if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] in [[c] for c in columns]:
                schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")

    def create(apps, schema_editor):
        for column in columns:
            schema_editor.execute(f"CREATE INDEX {table}_{column}_fk ON {table} ({column})")

    return migrations.RunPython(drop, create)


def _link_foreign_keys(entity_field, entity_model, entity_column):
    """A link table's two foreign keys as the models declare them: not indexed on their own (the pair's unique
    index leads with the entity, `(tag, entity_seq)` with the tag)."""
    return {
        "tag": models.ForeignKey("system_app.Tag", on_delete=models.CASCADE, db_column="tag_name", db_index=False),
        entity_field: models.ForeignKey(entity_model, on_delete=models.CASCADE, db_column=entity_column,
                                        db_index=False),
    }


def row_key_operations(entity_model: str, link_model: str, counted: CountedLink, replaced_index: str,
                       entity_field: tuple):
    """The migration steps that give an entity and its link table their integer keys: the two columns, the keys of
    the existing rows and the triggers, then the unique index on `seq` and the link table's keyed indexes (built
    once, after the backfill), which replace its `(tag, entity key)` index `replaced_index` and the one-column
    indexes of its foreign keys. `entity_field`: (name, model label) of the link's foreign key to the entity."""
    name, label = entity_field
    foreign_keys = _link_foreign_keys(name, label, counted.column)
    return [
        migrations.RemoveIndex(model_name=link_model, name=replaced_index),
        migrations.AddField(model_name=entity_model, name="seq",
                            field=models.BigIntegerField(editable=False, null=True, serialize=False)),
        migrations.AddField(model_name=link_model, name="entity_seq",
                            field=models.BigIntegerField(editable=False, null=True, serialize=False)),
        install_step(f"row_keys:{counted.entity}", 1),  # the SQL it ran when released
        migrations.AddConstraint(model_name=entity_model, constraint=seq_constraint(counted.entity)),
        *(migrations.AddIndex(model_name=link_model, index=index) for index in keyed_indexes(counted.link)),
        migrations.SeparateDatabaseAndState(  # no table remake on SQLite (it would drop the triggers)
            database_operations=[_drop_single_column_indexes(counted.link, ["tag_name", counted.column])],
            state_operations=[migrations.AlterField(model_name=link_model, name=field_name, field=field)
                              for field_name, field in foreign_keys.items()],
        ),
    ]
