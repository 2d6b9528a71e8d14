"""Storing a finished task's images: the PNGs in the content store and the task completed, in one transaction."""

from __future__ import annotations

from django.db import transaction

from images_app.models import Image
from images_app.storage import delete_image_file, store_image_bytes
from models_app.models import ImageModel

from . import queue
from .models import TaskImage, TaskModel


class _TaskNoLongerRunning(Exception):
    pass


def store_results(task, images) -> bool:
    """Store the rendered PNGs and complete the task in one transaction (False if it was cancelled).

    D4: identical bytes are one image. A re-render of bytes already stored links to the existing
    row, which keeps its first producing task and seed (re-attached only if its task was deleted);
    a TaskImage row lists it among this task's images either way.
    """
    created = []
    try:
        with transaction.atomic():
            links = []
            for rendered in images:
                image, is_new = store_image_bytes(rendered.png, task=task, seed=rendered.seed)
                if is_new:
                    created.append(image)
                elif image.task_id is None:
                    Image.objects.filter(hash=image.hash).update(task=task, seed=rendered.seed)
                links.append(TaskImage(task=task, image=image))
            TaskImage.objects.bulk_create(links, ignore_conflicts=True)  # a batch may repeat bytes
            link_models(task, [link.image_id for link in links])
            if not queue.finish(task, "completed"):
                raise _TaskNoLongerRunning
    except _TaskNoLongerRunning:
        for image in created:  # rows rolled back: drop their files too
            delete_image_file(image)
        return False
    except Exception:
        for image in created:
            delete_image_file(image)
        raise
    return True


def task_models(task) -> list[tuple[str, str]]:
    """(model hash, role) of every model a task rendered with: checkpoint, VAE, upscaler and add-on models."""
    used = [(sha, role) for sha, role in ((task.checkpoint_id, "checkpoint"), (task.vae_id, "vae"),
                                          (task.upscaler_id, "upscaler")) if sha]
    return used + list(TaskModel.objects.filter(task=task).values_list("model_id", "model__model_type"))


def link_models(task, image_hashes) -> None:
    """Link a task's images to the models it rendered with (models_app.ImageModel, #24 item 5)."""
    ImageModel.objects.bulk_create([ImageModel(image_id=image, model_id=sha, role=role)
                                    for image in dict.fromkeys(image_hashes) for sha, role in task_models(task)],
                                   ignore_conflicts=True)
