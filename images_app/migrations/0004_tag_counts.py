"""Maintained tag counts on images (core/tag_counts.py): a `tag_count` column kept by triggers on
image_tags, indexed for `sort=-tag_count`; existing links are counted first. The images_with_tags view now
reads the column. The table's rows are counted too (`row_counts`)."""

import importlib

from django.db import migrations, models

from core.tag_counts import CountedLink, count_rows, create_triggers

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "images_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ('images_app', '0003_image_tags_covering_index'),
        ('system_app', '0004_tag_counts'),
        ('tasks_app', '0008_workers_and_leases'),
    ]

    operations = [
        tag_views.drop_views(VIEWS),
        migrations.AddField(
            model_name='image',
            name='tag_count',
            field=models.IntegerField(default=0, editable=False, serialize=False),
        ),
        migrations.AddIndex(
            model_name='image',
            index=models.Index(fields=['-tag_count', 'hash'], name='idx_images_tag_count'),
        ),
        # default sort with its tie-breaker, covering: deep pages skip ids in the index alone
        migrations.RemoveIndex(model_name='image', name='idx_images_created'),
        migrations.AddIndex(
            model_name='image',
            index=models.Index(fields=['-created_at', 'hash'], name='idx_images_created_hash'),
        ),
        create_triggers(CountedLink("image_tags", "image_hash", "images", "hash")),
        count_rows('images'),  # after the table was remade (AddField on SQLite)
        tag_views.create_views(VIEWS),
    ]
