"""Maintained counts on tasks (core/tag_counts.py): a `tag_count` column kept by triggers on task_tags,
indexed for `sort=-tag_count`, and the table's rows in `row_counts`; existing rows are counted first.
The tasks_with_tags view now reads the column."""

import importlib

from django.db import migrations

from core.tag_counts import CountedLink, counted_entity_operations

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "tasks_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0008_workers_and_leases'),
        ('system_app', '0004_tag_counts'),
    ]

    operations = counted_entity_operations(
        "task", CountedLink("task_tags", "task_id", "tasks", "id"),
        (tag_views.drop_views(VIEWS), tag_views.create_views(VIEWS)),
    )
