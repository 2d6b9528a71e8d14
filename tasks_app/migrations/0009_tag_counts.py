"""Maintained tag counts on tasks (core/tag_counts.py): a `tag_count` column kept by triggers on
task_tags, indexed for `sort=-tag_count`; existing links are counted first. The tasks_with_tags view now
reads the column. The table's rows are counted too (`row_counts`)."""

import importlib

from django.db import migrations, models

from core.tag_counts import CountedLink, count_rows, create_triggers

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "tasks_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0008_workers_and_leases'),
        ('system_app', '0004_tag_counts'),
    ]

    operations = [
        tag_views.drop_views(VIEWS),
        migrations.AddField(
            model_name='task',
            name='tag_count',
            field=models.IntegerField(default=0, editable=False, serialize=False),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['-tag_count', 'id'], name='idx_tasks_tag_count'),
        ),
        create_triggers(CountedLink("task_tags", "task_id", "tasks", "id")),
        count_rows('tasks'),  # after the table was remade (AddField on SQLite)
        tag_views.create_views(VIEWS),
    ]
