from django.db import migrations


def link_rendered_images(apps, schema_editor):
    """Images rendered before images linked to models: each links to its tasks' checkpoint, VAE, upscaler and
    add-on models (as tasks_app/results.py does for new renders)."""
    TaskImage = apps.get_model("tasks_app", "TaskImage")
    TaskModel = apps.get_model("tasks_app", "TaskModel")
    ImageModel = apps.get_model("models_app", "ImageModel")
    links = []
    rows = TaskImage.objects.values_list("image_id", "task__checkpoint_id", "task__vae_id", "task__upscaler_id")
    for image_id, checkpoint, vae, upscaler in rows.iterator():
        links += [ImageModel(image_id=image_id, model_id=sha, role=role)
                  for sha, role in ((checkpoint, "checkpoint"), (vae, "vae"), (upscaler, "upscaler")) if sha]
    addons = TaskModel.objects.filter(task__image_links__isnull=False).values_list(
        "task__image_links__image_id", "model_id", "model__model_type")
    links += [ImageModel(image_id=image_id, model_id=sha, role=role) for image_id, sha, role in addons.iterator()]
    ImageModel.objects.bulk_create(links, ignore_conflicts=True, batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ("models_app", "0010_image_models"),
        ("tasks_app", "0013_task_scheduler"),
    ]

    operations = [
        migrations.RunPython(link_rendered_images, migrations.RunPython.noop),
    ]
