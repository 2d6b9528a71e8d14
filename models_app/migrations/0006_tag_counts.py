"""Maintained tag counts on models (core/tag_counts.py): a `tag_count` column kept by triggers on
model_tags, indexed for `sort=-tag_count`; existing links are counted first. The models_with_tags view now
reads the column. The table's rows are counted too (`row_counts`)."""

import importlib

from django.db import migrations, models

from core.tag_counts import CountedLink, count_rows, create_triggers

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "models_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ('models_app', '0005_civitai_import_lease'),
        ('system_app', '0004_tag_counts'),
        ('tasks_app', '0002_tag_views'),
    ]

    operations = [
        tag_views.drop_views(VIEWS),
        migrations.AddField(
            model_name='sdmodel',
            name='tag_count',
            field=models.IntegerField(default=0, editable=False, serialize=False),
        ),
        migrations.AddIndex(
            model_name='sdmodel',
            index=models.Index(fields=['-tag_count', 'hash'], name='idx_models_tag_count'),
        ),
        # default sort with its tie-breaker, covering: deep pages skip ids in the index alone
        migrations.RemoveIndex(model_name='sdmodel', name='idx_models_created'),
        migrations.AddIndex(
            model_name='sdmodel',
            index=models.Index(fields=['-created_at', 'hash'], name='idx_models_created_hash'),
        ),
        create_triggers(CountedLink("model_tags", "model_hash", "models", "hash")),
        count_rows('models'),  # after the table was remade (AddField on SQLite)
        tag_views.create_views(VIEWS),
    ]
