"""What active tasks need: models and images that must not be deleted while a task is pending or running."""

from django.db.models import Q

from tasks_app.models import ACTIVE_STATUSES, Task, TaskModel


def model_needed_by_active_task(model) -> bool:
    """Whether a pending or running task uses `model` as checkpoint, VAE, additional model or upscaler (D11)."""
    return (
        Task.objects.filter(Q(checkpoint=model) | Q(vae=model) | Q(upscaler=model), status__in=ACTIVE_STATUSES).exists()
        or TaskModel.objects.filter(model=model, task__status__in=ACTIVE_STATUSES).exists()
    )


def image_needed_by_active_task(image) -> bool:
    """Whether `image` is the control, init or mask image of a pending or running task (D28, D36)."""
    return (TaskModel.objects.filter(control_image=image, task__status__in=ACTIVE_STATUSES).exists()
            or Task.objects.filter(Q(init_image=image) | Q(mask_image=image), status__in=ACTIVE_STATUSES).exists())
