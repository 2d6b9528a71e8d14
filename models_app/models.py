"""The model library: checkpoint, LoRA, ControlNet, VAE, embedding and upscaler files."""

from django.db import models
from django.utils import timezone

from core.row_keys import keyed_indexes, seq_constraint
from system_app.models import TagCounted, TagLink

MODEL_TYPES = ["checkpoint", "lora", "controlnet", "vae", "embedding", "upscaler"]
# `missing` / `changed`: an in-place model's file is gone, or holds other bytes now (models_app/scan.py)
MODEL_STATUSES = ["downloading", "ready", "failed", "missing", "changed"]


class SDModel(TagCounted):
    """One weights file, identified by its SHA256."""

    hash = models.CharField(primary_key=True, max_length=64)
    name = models.TextField()
    model_type = models.CharField(
        max_length=20, db_column="type", choices=[(t, t) for t in MODEL_TYPES]
    )
    base_model = models.CharField(max_length=100, null=True, blank=True)
    size = models.BigIntegerField()
    source_url = models.TextField(null=True, blank=True, db_column="sourceUrl")
    metadata = models.JSONField(default=dict, blank=True)
    description = models.TextField(null=True, blank=True)
    cover_image = models.ForeignKey(
        "images_app.Image", null=True, blank=True, on_delete=models.SET_NULL,
        db_column="cover_image_hash", related_name="covered_models",
    )
    status = models.CharField(
        max_length=20, default="ready", choices=[(s, s) for s in MODEL_STATUSES]
    )
    error_message = models.TextField(null=True, blank=True)
    # Real extension of the stored file (".safetensors", ".ckpt", ...), for downloads (D21).
    file_ext = models.CharField(max_length=20, default=".safetensors")
    # Absolute path of a file registered in place (`import_model --in-place`): read where it lies, never copied
    # into the store nor deleted by SD-Host; null for files held in the model store.
    local_path = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    tags = models.ManyToManyField("system_app.Tag", through="ModelTag", related_name="models", blank=True)

    class Meta:
        db_table = "models"
        verbose_name = "model"
        verbose_name_plural = "models"
        indexes = [
            models.Index(fields=["model_type"], name="idx_models_type"),
            models.Index(fields=["base_model"], name="idx_models_base_model"),
            models.Index(fields=["-created_at", "hash"], name="idx_models_created_hash"),
            models.Index(fields=["name"], name="idx_models_name"),
            models.Index(fields=["-tag_count", "hash"], name="idx_models_tag_count"),  # sort=-tag_count
        ]
        constraints = [
            seq_constraint("models"),
            models.CheckConstraint(condition=models.Q(model_type__in=MODEL_TYPES), name="models_type_valid"),
            models.CheckConstraint(condition=models.Q(status__in=MODEL_STATUSES), name="models_status_valid"),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="models_size_positive"),
        ]

    def __str__(self):
        return f"{self.name} ({self.model_type})"


class ModelTag(TagLink):
    # not indexed alone: the pair's unique index leads with it
    model = models.ForeignKey(SDModel, on_delete=models.CASCADE, db_column="model_hash", db_index=False)

    usage_count = "model_count"

    class Meta:
        db_table = "model_tags"
        constraints = [models.UniqueConstraint(fields=["model", "tag"], name="model_tags_pair")]
        indexes = keyed_indexes("model_tags")


IMAGE_MODEL_ROLES = ["checkpoint", "vae", "lora", "embedding", "controlnet", "upscaler"]


class ImageModel(models.Model):
    """An image made with a model (#24 item 5): a render links to its task's checkpoint, VAE, upscaler and add-on
    models (tasks_app/results.py); an imported image to the library models its stored hashes match
    (images_app.ImageModelRef, models_app/links.py). Goes with either side (FK cascade). `filter[model]` on
    /api/images reads it."""

    image = models.ForeignKey("images_app.Image", on_delete=models.CASCADE, db_column="image_hash",
                              related_name="model_links", db_index=False)
    model = models.ForeignKey(SDModel, on_delete=models.CASCADE, db_column="model_hash", related_name="image_links",
                              db_index=False)
    role = models.CharField(max_length=20, choices=[(r, r) for r in IMAGE_MODEL_ROLES])

    class Meta:
        db_table = "image_models"
        constraints = [
            models.UniqueConstraint(fields=["image", "model"], name="image_models_pair"),
            models.CheckConstraint(condition=models.Q(role__in=IMAGE_MODEL_ROLES), name="image_models_role_valid"),
        ]
        indexes = [models.Index(fields=["model", "image"], name="idx_image_models_model_image")]


class CivitaiImport(models.Model):
    """Download state of a model imported from Civitai (models_app/civitai); goes with its model."""

    model = models.OneToOneField(
        SDModel, primary_key=True, on_delete=models.CASCADE, db_column="model_hash", related_name="civitai_import",
    )
    civitai_model_id = models.BigIntegerField()
    version_id = models.BigIntegerField()
    file_name = models.TextField()
    download_url = models.TextField()
    bytes_done = models.BigIntegerField(default=0)  # persisted about once a second while downloading
    validator = models.TextField(null=True, blank=True)  # ETag or Last-Modified, sent as If-Range on resume
    # Which process downloads it, until when (renewed with every progress write): one download per
    # import across server processes (D41); an expired lease lets another process resume it.
    owner = models.CharField(max_length=32, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "civitai_imports"


class FileHash(models.Model):
    """The hash cache of folder scans: a file's SHA256 as long as its size and mtime are unchanged, so a re-scan
    of an unchanged tree costs a stat per file (models_app/scan.py)."""

    path = models.TextField(primary_key=True)
    size = models.BigIntegerField()
    mtime_ns = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "model_file_hashes"
        indexes = [models.Index(fields=["sha256"], name="idx_model_file_hashes_sha")]
