"""Task.resumed and Task.started_at (queue recovery and time estimates).

SQLite rebuilds the tasks table to add columns, which the tasks_with_tags view would block, so
the view is dropped first and recreated afterwards (same SQL as 0002; PostgreSQL's `e.*` view
would not show the new columns otherwise)."""

import importlib

from django.db import migrations, models

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "tasks_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0002_tag_views"),
    ]

    operations = [
        tag_views.drop_views(VIEWS),
        migrations.AddField(
            model_name="task",
            name="resumed",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="task",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        tag_views.create_views(VIEWS),
    ]
