"""Model type `upscaler` (D38). The models_with_tags view (tasks_app 0002) is dropped around the table rebuild."""

import importlib

from django.db import migrations, models

tag_views = importlib.import_module("tasks_app.migrations.0002_tag_views")
VIEWS = [view for view in tag_views.VIEWS if view[0] == "models_with_tags"]


class Migration(migrations.Migration):

    dependencies = [
        ('images_app', '0003_image_tags_covering_index'),
        ('models_app', '0003_model_tags_covering_index'),
        ('system_app', '0002_seed_facts'),
        ('tasks_app', '0002_tag_views'),
    ]

    operations = [
        tag_views.drop_views(VIEWS),
        migrations.RemoveConstraint(
            model_name='sdmodel',
            name='models_type_valid',
        ),
        migrations.AlterField(
            model_name='sdmodel',
            name='model_type',
            field=models.CharField(choices=[('checkpoint', 'checkpoint'), ('lora', 'lora'), ('controlnet', 'controlnet'), ('vae', 'vae'), ('embedding', 'embedding'), ('upscaler', 'upscaler')], db_column='type', max_length=20),
        ),
        migrations.AddConstraint(
            model_name='sdmodel',
            constraint=models.CheckConstraint(condition=models.Q(('model_type__in', ['checkpoint', 'lora', 'controlnet', 'vae', 'embedding', 'upscaler'])), name='models_type_valid'),
        ),
        tag_views.create_views(VIEWS),
    ]
