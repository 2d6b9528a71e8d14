"""In-place models (`import_model --in-place`, models_app/scan.py): `models.local_path`, statuses `missing` and
`changed`, and the scan's hash cache `model_file_hashes`. The status CHECK makes SQLite remake the models table:
the models_with_tags view (tasks_app 0002) and the trigger sets that name the table are dropped around it
(core/triggers.py `around_sqlite_remake`)."""

import importlib

import django.utils.timezone
from django.db import migrations, models

from core.triggers import around_sqlite_remake

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "models_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ('images_app', '0006_trigger_sets_v2'),
        ('models_app', '0008_trigger_sets_v2'),
        ('system_app', '0006_delete_rowcount'),
        ('tasks_app', '0002_tag_views'),
    ]

    operations = [
        migrations.CreateModel(
            name='FileHash',
            fields=[
                ('path', models.TextField(primary_key=True, serialize=False)),
                ('size', models.BigIntegerField()),
                ('mtime_ns', models.BigIntegerField()),
                ('sha256', models.CharField(max_length=64)),
                ('checked_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'db_table': 'model_file_hashes',
            },
        ),
        tag_views.drop_views(VIEWS),
        *around_sqlite_remake({"link_counts:model_tags": 1, "row_counts:models": 2, "row_keys:models": 2}, [
        migrations.RemoveConstraint(
            model_name='sdmodel',
            name='models_status_valid',
        ),
        migrations.AddField(
            model_name='sdmodel',
            name='local_path',
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='sdmodel',
            name='status',
            field=models.CharField(choices=[('downloading', 'downloading'), ('ready', 'ready'), ('failed', 'failed'), ('missing', 'missing'), ('changed', 'changed')], default='ready', max_length=20),
        ),
        migrations.AddConstraint(
            model_name='sdmodel',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['downloading', 'ready', 'failed', 'missing', 'changed'])), name='models_status_valid'),
        ),
        ]),
        tag_views.create_views(VIEWS),
        migrations.AddIndex(
            model_name='filehash',
            index=models.Index(fields=['sha256'], name='idx_model_file_hashes_sha'),
        ),
    ]
