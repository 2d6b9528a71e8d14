"""Several render workers (D41): task leases, attempts, progress, and the render_workers table.

The tasks_with_tags view is dropped and recreated around the new columns (see 0003)."""

import importlib

import django.utils.timezone
from django.db import migrations, models

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "tasks_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0007_task_images"),
    ]

    operations = [
        tag_views.drop_views(VIEWS),
        migrations.AddField(
            model_name="task",
            name="worker_id",
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.AddField(
            model_name="task",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="task",
            name="attempts",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="task",
            name="progress",
            field=models.FloatField(default=0.0),
        ),
        tag_views.create_views(VIEWS),
        migrations.CreateModel(
            name="RenderWorkerState",
            fields=[
                ("id", models.CharField(max_length=32, primary_key=True, serialize=False)),
                ("host", models.CharField(max_length=255)),
                ("pid", models.IntegerField()),
                ("device", models.CharField(default="", max_length=50)),
                ("checkpoint_hash", models.CharField(blank=True, max_length=64, null=True)),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("heartbeat_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "db_table": "render_workers",
            },
        ),
    ]
