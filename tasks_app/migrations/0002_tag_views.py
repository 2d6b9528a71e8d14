"""The tag aggregation views of data-model.md (for operators and hand-written SQL), per database.

The API computes the same values with ORM annotations."""

from django.db import migrations


VIEWS = [
    ("models_with_tags", "models", "hash", "model_tags", "model_hash"),
    ("images_with_tags", "images", "hash", "image_tags", "image_hash"),
    ("tasks_with_tags", "tasks", "id", "task_tags", "task_id"),
]
# How each database concatenates the tag names and creates a view once.
DIALECTS = {
    "sqlite": ("CREATE VIEW IF NOT EXISTS", "group_concat(l.tag_name, ',')"),
    "postgresql": ("CREATE OR REPLACE VIEW", "string_agg(l.tag_name, ',')"),
}


def create_sql(vendor="sqlite", views=VIEWS, counted=()):
    """The views' SQL; an entity table in `counted` has its own maintained `tag_count` column (core/tag_counts.py)."""
    create, concat = DIALECTS[vendor]
    return [
        f"""{create} {view} AS
        SELECT e.*, (SELECT {concat} FROM {link} l WHERE l.{col} = e.{pk}) AS tag_names"""
        + ("" if table in counted else f""",
               (SELECT count(*) FROM {link} l WHERE l.{col} = e.{pk}) AS tag_count""")
        + f"""
        FROM {table} e"""
        for view, table, pk, link, col in views
    ]


def _create(views):
    def run(apps, schema_editor):
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            counted = {table for _, table, *_ in views
                       if any(column.name == "tag_count"
                              for column in connection.introspection.get_table_description(cursor, table))}
        for sql in create_sql(connection.vendor, views, counted):
            schema_editor.execute(sql)
    return run


def _drop(views):
    def run(apps, schema_editor):
        for sql in drop_sql(views):
            schema_editor.execute(sql)
    return run


def create_views(views=VIEWS):
    """Create `views` (reverse: drop them) with the running database's SQL and columns."""
    return migrations.RunPython(_create(views), _drop(views))


def drop_views(views=VIEWS):
    """Drop `views` (reverse: create them)."""
    return migrations.RunPython(_drop(views), _create(views))


def drop_sql(views):
    return [f"DROP VIEW IF EXISTS {view[0]}" for view in views]


class Migration(migrations.Migration):
    dependencies = [
        ("tasks_app", "0001_initial"),
        ("images_app", "0002_initial"),
        ("models_app", "0001_initial"),
    ]
    operations = [create_views()]
