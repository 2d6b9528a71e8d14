"""The tag aggregation views of data-model.md (for operators and hand-written SQL).

The API computes the same values with ORM annotations."""

from django.db import migrations

VIEWS = [
    ("models_with_tags", "models", "hash", "model_tags", "model_hash"),
    ("images_with_tags", "images", "hash", "image_tags", "image_hash"),
    ("tasks_with_tags", "tasks", "id", "task_tags", "task_id"),
]


def create_sql():
    return [
        f"""CREATE VIEW IF NOT EXISTS {view} AS
        SELECT e.*, (SELECT group_concat(l.tag_name, ',') FROM {link} l WHERE l.{col} = e.{pk}) AS tag_names,
               (SELECT count(*) FROM {link} l WHERE l.{col} = e.{pk}) AS tag_count
        FROM {table} e"""
        for view, table, pk, link, col in VIEWS
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("tasks_app", "0001_initial"),
        ("images_app", "0002_initial"),
        ("models_app", "0001_initial"),
    ]
    operations = [
        migrations.RunSQL(sql, f"DROP VIEW IF EXISTS {view[0]}") for sql, view in zip(create_sql(), VIEWS)
    ]
