"""The content-addressed image library."""

from django.db import models
from django.dispatch import Signal
from django.utils import timezone

from core.row_keys import keyed_indexes, seq_constraint
from system_app.models import TagCounted, TagLink


class Image(TagCounted):
    """One stored image file; its id is the SHA256 of its bytes (D4)."""

    FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

    hash = models.CharField(primary_key=True, max_length=64)
    task = models.ForeignKey(
        "tasks_app.Task", null=True, blank=True, on_delete=models.SET_NULL,
        db_column="task_id", related_name="images",
    )
    width = models.IntegerField()
    height = models.IntegerField()
    size = models.BigIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    format = models.CharField(max_length=10, default="png")
    created_at = models.DateTimeField(default=timezone.now)
    tags = models.ManyToManyField("system_app.Tag", through="ImageTag", related_name="images", blank=True)

    class Meta:
        db_table = "images"
        indexes = [
            models.Index(fields=["width", "height"], name="idx_images_size"),
            models.Index(fields=["-created_at", "hash"], name="idx_images_created_hash"),
            models.Index(fields=["seed"], name="idx_images_seed"),
            models.Index(fields=["-tag_count", "hash"], name="idx_images_tag_count"),  # sort=-tag_count
        ]
        constraints = [
            seq_constraint("images"),
            models.CheckConstraint(condition=models.Q(width__gt=0), name="images_width_positive"),
            models.CheckConstraint(condition=models.Q(height__gt=0), name="images_height_positive"),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="images_size_positive"),
        ]

    @property
    def content_type(self):
        return self.FORMATS.get(self.format, "application/octet-stream")

    @property
    def extension(self):
        return "jpg" if self.format == "jpeg" else self.format

    def __str__(self):
        return self.hash


class ImageTag(TagLink):
    # not indexed alone: the pair's unique index leads with it
    image = models.ForeignKey(Image, on_delete=models.CASCADE, db_column="image_hash", db_index=False)

    usage_count = "image_count"

    class Meta:
        db_table = "image_tags"
        constraints = [models.UniqueConstraint(fields=["image", "tag"], name="image_tags_pair")]
        indexes = keyed_indexes("image_tags")


MODEL_REF_ROLES = ["checkpoint", "vae", "lora", "embedding"]

# Sent with `image_hashes` once an imported image's model references are stored; models_app links them to the
# models already in the library (models_app/links.py) without this app importing it.
model_refs_stored = Signal()


class ImageModelRef(models.Model):
    """A model an imported image says it was made with, by hash, as its PNG text gives it (A1111 `Model hash`,
    `VAE hash`, `Lora hashes`, `TI hashes`: AutoV2, the first 10 hex digits of the SHA256; InvokeAI's full
    SHA256). Kept whether or not that model is in the library, so a model imported later finds its images by an
    indexed lookup (docs/library.md "Images and their models")."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, db_column="image_hash", related_name="model_refs",
                              db_index=False)
    role = models.CharField(max_length=20, choices=[(r, r) for r in MODEL_REF_ROLES])
    hash = models.CharField(max_length=64)  # lowercase hex, 10 to 64 digits: a prefix of the model's SHA256
    name = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "image_model_refs"
        constraints = [models.UniqueConstraint(fields=["image", "role", "hash"], name="image_model_refs_triple")]
        indexes = [models.Index(fields=["hash"], name="idx_image_model_refs_hash")]
