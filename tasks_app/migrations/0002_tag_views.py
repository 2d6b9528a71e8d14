"""The tag aggregation views of data-model.md (for operators and hand-written SQL), per database.

The API computes the same values with ORM annotations."""

from django.db import migrations

from core.db import run_sql_per_vendor

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


def create_sql(vendor="sqlite", views=VIEWS):
    create, concat = DIALECTS[vendor]
    return [
        f"""{create} {view} AS
        SELECT e.*, (SELECT {concat} FROM {link} l WHERE l.{col} = e.{pk}) AS tag_names,
               (SELECT count(*) FROM {link} l WHERE l.{col} = e.{pk}) AS tag_count
        FROM {table} e"""
        for view, table, pk, link, col in views
    ]


def create_views(views=VIEWS):
    """Create `views` (reverse: drop them) with the running database's SQL."""
    return run_sql_per_vendor(
        {vendor: create_sql(vendor, views) for vendor in DIALECTS}, {vendor: drop_sql(views) for vendor in DIALECTS}
    )


def drop_views(views=VIEWS):
    """Drop `views` (reverse: create them)."""
    return run_sql_per_vendor(
        {vendor: drop_sql(views) for vendor in DIALECTS}, {vendor: create_sql(vendor, views) for vendor in DIALECTS}
    )


def drop_sql(views):
    return [f"DROP VIEW IF EXISTS {view[0]}" for view in views]


class Migration(migrations.Migration):
    dependencies = [
        ("tasks_app", "0001_initial"),
        ("images_app", "0002_initial"),
        ("models_app", "0001_initial"),
    ]
    operations = [create_views()]
