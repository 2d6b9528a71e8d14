"""Storing a finished task's images: the PNGs in the content store and the task completed, in one transaction."""

from __future__ import annotations

from django.db import transaction

from images_app.models import Image
from images_app.storage import delete_image_file, store_image_bytes

from . import queue
from .models import TaskImage


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
