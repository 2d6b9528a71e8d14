"""Render tasks, their extra models and tags."""

import uuid
from datetime import datetime
from datetime import timezone as dt_timezone

from django.db import models
from django.utils import timezone

from core.row_keys import keyed_indexes, seq_constraint
from engine.a1111.names import DEFAULT_SAMPLER, DEFAULT_SCHEDULER
from engine.parameters import MAX_STEPS
from system_app.models import TagCounted, TagLink

TASK_STATUSES = ["pending", "running", "completed", "failed", "cancelled"]
ACTIVE_STATUSES = ["pending", "running"]
TASK_KINDS = ["render", "upscale"]  # upscale: POST /api/images/{hash}/upscale (D38)
NEVER_PROMOTED = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


# what new_task_id makes: the task detail route (tasks_app/api/urls.py) and its OpenAPI `id` take only this
TASK_ID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def new_task_id():
    return str(uuid.uuid4())


class Task(TagCounted):
    """One generation request yielding `batch_size` images, or one upscale of a stored image (kind `upscale`)."""

    id = models.CharField(primary_key=True, max_length=36, default=new_task_id)
    status = models.CharField(max_length=20, default="pending", choices=[(s, s) for s in TASK_STATUSES])
    checkpoint = models.ForeignKey(  # null only for upscale tasks
        "models_app.SDModel", on_delete=models.CASCADE, db_column="checkpoint_hash",
        related_name="checkpoint_tasks", null=True, blank=True,
    )
    prompt = models.TextField()
    negative_prompt = models.TextField(default="", blank=True, null=True)
    width = models.IntegerField(default=512)
    height = models.IntegerField(default=512)
    seed = models.BigIntegerField(default=-1, null=True)
    steps = models.IntegerField(default=20)
    cfg_scale = models.FloatField(default=7.0)
    sampler = models.CharField(max_length=50, default=DEFAULT_SAMPLER)
    scheduler = models.CharField(max_length=30, default=DEFAULT_SCHEDULER)  # A1111's schedule type (D46)
    batch_size = models.IntegerField(default=1)
    clip_skip = models.IntegerField(default=1)  # A1111's "Clip skip" (D33)
    vae = models.ForeignKey(
        "models_app.SDModel", null=True, blank=True, on_delete=models.SET_NULL, db_column="vae_hash",
        related_name="vae_tasks",
    )
    error_message = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    promoted_at = models.DateTimeField(default=NEVER_PROMOTED)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Scheduler state (D7), so the queue order survives a restart:
    # queue_order: place among non-promoted pending tasks (ascending);
    # overtaken: how many later tasks were placed ahead of this one;
    # promote_rank: position within its promote request (ascending).
    queue_order = models.BigIntegerField(default=0)
    overtaken = models.IntegerField(default=0)
    promote_rank = models.IntegerField(default=0)
    # resumed: was running when a worker stopped; runs first again (tasks_app/queue.py).
    resumed = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)  # when the worker last started it
    # Several workers (D41): who runs it, until when its lease holds (renewed by that worker),
    # how often it was started (the retry budget of recovery) and its progress (0..1) for the
    # queue streams of other processes.
    worker_id = models.CharField(max_length=32, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    progress = models.FloatField(default=0.0)
    additional_models = models.ManyToManyField(
        "models_app.SDModel", through="TaskModel", related_name="tasks_using", blank=True
    )
    tags = models.ManyToManyField("system_app.Tag", through="TaskTag", related_name="tasks", blank=True)
    # Image to image (D36), hires fix (D37), upscale tasks (D38); see tasks_app/image_inputs.py.
    kind = models.CharField(max_length=10, default="render", choices=[(k, k) for k in TASK_KINDS])
    init_image = models.ForeignKey(  # img2img / inpainting source; the image to upscale for upscale tasks
        "images_app.Image", null=True, blank=True, on_delete=models.SET_NULL, db_column="init_image_hash",
        related_name="init_for",
    )
    mask_image = models.ForeignKey(
        "images_app.Image", null=True, blank=True, on_delete=models.SET_NULL, db_column="mask_image_hash",
        related_name="mask_for",
    )
    mask_blur = models.IntegerField(default=4)
    denoising_strength = models.FloatField(null=True, blank=True)  # null without init_image
    hires = models.JSONField(null=True, blank=True)  # {"scale" | "width"+"height", "steps", "denoising_strength", "upscaler"}
    upscaler = models.ForeignKey(  # the upscaler model of `hires` or of an upscale task (null: a built-in one)
        "models_app.SDModel", null=True, blank=True, on_delete=models.SET_NULL, db_column="upscaler_hash",
        related_name="upscaler_tasks",
    )
    upscale_scale = models.FloatField(null=True, blank=True)  # upscale tasks
    # What must be equal for tasks to share a pipeline call, as a digest (tasks_app.render_requests), stored at
    # submit so that a claim compares strings; null: never merged (upscale tasks, tasks from before migration 0012).
    batch_signature = models.CharField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        db_table = "tasks"
        indexes = [
            models.Index(fields=["status"], name="idx_tasks_status"),
            models.Index(fields=["-created_at"], name="idx_tasks_created"),
            models.Index(fields=["-promoted_at"], name="idx_tasks_promoted"),
            models.Index(fields=["-completed_at"], name="idx_tasks_completed"),
            models.Index(fields=["-tag_count", "id"], name="idx_tasks_tag_count"),  # sort=-tag_count
            models.Index(
                "status", models.F("promoted_at").desc(), models.F("created_at").asc(),
                name="idx_tasks_queue", condition=models.Q(status="pending"),
            ),
        ]
        constraints = [
            seq_constraint("tasks"),
            models.CheckConstraint(condition=models.Q(status__in=TASK_STATUSES), name="tasks_status_valid"),
            models.CheckConstraint(condition=models.Q(width__gt=0), name="tasks_width_positive"),
            models.CheckConstraint(condition=models.Q(height__gt=0), name="tasks_height_positive"),
            models.CheckConstraint(condition=models.Q(steps__gt=0, steps__lte=MAX_STEPS), name="tasks_steps_range"),
            models.CheckConstraint(
                condition=models.Q(cfg_scale__gt=0, cfg_scale__lte=30), name="tasks_cfg_scale_range"
            ),
            models.CheckConstraint(
                condition=models.Q(batch_size__gt=0, batch_size__lte=10), name="tasks_batch_size_range"
            ),
            models.CheckConstraint(
                condition=models.Q(clip_skip__gte=1, clip_skip__lte=12), name="tasks_clip_skip_range"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=TASK_KINDS), name="tasks_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(kind="upscale") | models.Q(checkpoint__isnull=False), name="tasks_render_checkpoint"
            ),
            models.CheckConstraint(
                condition=models.Q(denoising_strength__isnull=True)
                | models.Q(denoising_strength__gte=0, denoising_strength__lte=1),
                name="tasks_denoising_strength_range",
            ),
            models.CheckConstraint(condition=models.Q(mask_blur__gte=0, mask_blur__lte=64), name="tasks_mask_blur_range"),
        ]

    def __str__(self):
        return f"{self.id} ({self.status})"


class TaskModel(models.Model):
    """An extra model of a task: LoRA, ControlNet or embedding (D9). API id: `<task_id>:<model_hash>` (D18)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, db_column="task_id", related_name="task_models")
    model = models.ForeignKey(
        "models_app.SDModel", on_delete=models.CASCADE, db_column="model_hash", related_name="task_models"
    )
    weight = models.FloatField(default=1.0, null=True)
    control_image = models.ForeignKey(
        "images_app.Image", null=True, blank=True, on_delete=models.SET_NULL,
        db_column="control_image_hash", related_name="control_for",
    )
    position = models.IntegerField(default=0)  # order within the request's additional_models

    class Meta:
        db_table = "task_models"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "model"], name="task_models_pair"),
            models.CheckConstraint(
                condition=models.Q(weight__gte=0.0, weight__lte=2.0), name="task_models_weight_range"
            ),
        ]

    @property
    def resource_id(self):
        return f"{self.task_id}:{self.model_id}"


class TaskTag(TagLink):
    # not indexed alone: the pair's unique index leads with it
    task = models.ForeignKey(Task, on_delete=models.CASCADE, db_column="task_id", db_index=False)

    usage_count = "task_count"

    class Meta:
        db_table = "task_tags"
        constraints = [models.UniqueConstraint(fields=["task", "tag"], name="task_tags_pair")]
        indexes = keyed_indexes("task_tags")


class TaskImage(models.Model):
    """An image a task produced, whether its bytes were new or already stored (D4): every completed task
    lists its images through these rows. `Image.task` stays the first producer."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, db_column="task_id", related_name="image_links")
    image = models.ForeignKey(
        "images_app.Image", on_delete=models.CASCADE, db_column="image_hash", related_name="task_links"
    )

    class Meta:
        db_table = "task_images"
        constraints = [models.UniqueConstraint(fields=["task", "image"], name="task_images_pair")]
        indexes = [models.Index(fields=["image", "task"], name="idx_task_images_image_task")]


def link_producing_task(sender, instance, **kwargs):
    """post_save of an Image: the task recorded as its producer lists it too (however the row was saved)."""
    if instance.task_id is not None:
        TaskImage.objects.get_or_create(task_id=instance.task_id, image=instance)


class RenderWorkerState(models.Model):
    """A render worker process as it last reported itself (D41, D42 /api/health)."""

    id = models.CharField(primary_key=True, max_length=32)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    device = models.CharField(max_length=50, default="")
    checkpoint_hash = models.CharField(max_length=64, null=True, blank=True)  # loaded on its device
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "render_workers"

    def __str__(self):
        return f"{self.id} ({self.host}:{self.pid} {self.device})"
