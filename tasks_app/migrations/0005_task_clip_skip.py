"""Task.clip_skip (D33).

SQLite rebuilds the tasks table to add the column and its check, which the tasks_with_tags view would block,
so the view is dropped first and recreated afterwards (same SQL as 0002; `e.*` then includes clip_skip)."""

import importlib

from django.db import migrations, models

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "tasks_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0004_task_tags_covering_index"),
    ]

    operations = [
        tag_views.drop_views(VIEWS),
        migrations.AddField(
            model_name="task",
            name="clip_skip",
            field=models.IntegerField(default=1),
        ),
        migrations.AddConstraint(
            model_name="task",
            constraint=models.CheckConstraint(
                condition=models.Q(("clip_skip__gte", 1), ("clip_skip__lte", 12)), name="tasks_clip_skip_range"
            ),
        ),
        tag_views.create_views(VIEWS),
    ]
