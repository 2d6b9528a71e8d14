"""Maintained counts on models (core/tag_counts.py): a `tag_count` column kept by triggers on model_tags,
indexed for `sort=-tag_count`, and the table's rows in `row_counts`; existing rows are counted first.
The default-sort index becomes `(-created_at, hash)`.
The models_with_tags view now reads the column."""

import importlib

from django.db import migrations

from core.tag_counts import CountedLink, counted_entity_operations

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "models_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ('models_app', '0005_civitai_import_lease'),
        ('system_app', '0004_tag_counts'),
        ('tasks_app', '0002_tag_views'),
    ]

    operations = counted_entity_operations(
        "sdmodel", CountedLink("model_tags", "model_hash", "models", "hash"),
        (tag_views.drop_views(VIEWS), tag_views.create_views(VIEWS)), covering_created_index=True,
    )
