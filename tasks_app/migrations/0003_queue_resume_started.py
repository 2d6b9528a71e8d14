"""Task.resumed and Task.started_at (queue recovery and time estimates).

SQLite rebuilds the tasks table to add columns, which the tasks_with_tags view would block, so
the view is dropped first and recreated afterwards (same SQL as 0002)."""

import importlib

from django.db import migrations, models

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEW = "tasks_with_tags"
VIEW_SQL = next(sql for sql, view in zip(tag_views.create_sql(), tag_views.VIEWS) if view[0] == VIEW)


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0002_tag_views"),
    ]

    operations = [
        migrations.RunSQL(f"DROP VIEW IF EXISTS {VIEW}", VIEW_SQL),
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
        migrations.RunSQL(VIEW_SQL, f"DROP VIEW IF EXISTS {VIEW}"),
    ]
