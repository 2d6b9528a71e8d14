"""Image to image, inpainting, hires fix and upscale tasks (D36-D38); checkpoint null for upscale tasks.

The tasks_with_tags view is dropped around the table rebuild and recreated (as in 0003)."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "tasks_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ('images_app', '0003_image_tags_covering_index'),
        ('models_app', '0003_model_tags_covering_index'),
        ('system_app', '0002_seed_facts'),
        ('tasks_app', '0005_task_clip_skip'),
    ]

    operations = [
        tag_views.drop_views(VIEWS),
        migrations.AddField(
            model_name='task',
            name='denoising_strength',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='hires',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='init_image',
            field=models.ForeignKey(blank=True, db_column='init_image_hash', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='init_for', to='images_app.image'),
        ),
        migrations.AddField(
            model_name='task',
            name='kind',
            field=models.CharField(choices=[('render', 'render'), ('upscale', 'upscale')], default='render', max_length=10),
        ),
        migrations.AddField(
            model_name='task',
            name='mask_blur',
            field=models.IntegerField(default=4),
        ),
        migrations.AddField(
            model_name='task',
            name='mask_image',
            field=models.ForeignKey(blank=True, db_column='mask_image_hash', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='mask_for', to='images_app.image'),
        ),
        migrations.AddField(
            model_name='task',
            name='upscale_scale',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='upscaler',
            field=models.ForeignKey(blank=True, db_column='upscaler_hash', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='upscaler_tasks', to='models_app.sdmodel'),
        ),
        migrations.AlterField(
            model_name='task',
            name='checkpoint',
            field=models.ForeignKey(blank=True, db_column='checkpoint_hash', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='checkpoint_tasks', to='models_app.sdmodel'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['render', 'upscale'])), name='tasks_kind_valid'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('kind', 'upscale'), ('checkpoint__isnull', False), _connector='OR'), name='tasks_render_checkpoint'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('denoising_strength__isnull', True), models.Q(('denoising_strength__gte', 0), ('denoising_strength__lte', 1)), _connector='OR'), name='tasks_denoising_strength_range'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('mask_blur__gte', 0), ('mask_blur__lte', 64)), name='tasks_mask_blur_range'),
        ),
        tag_views.create_views(VIEWS),
    ]
