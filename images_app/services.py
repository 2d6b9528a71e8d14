"""Image library operations: D3 updates and deletes (D11, D28), imports of files and folders. Images enter via
storage.store_image_bytes."""

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from core.content_store import is_sha256
from core.errors import APIError, not_found
from core.file_walk import walk_files
from core.registry import InUseChecks
from core.updates import UpdateTarget
from core.writes import write_transaction
from images_app.generation import generation_metadata, model_refs, png_text_chunks
from images_app.models import Image, ImageModelRef, ImageTag, model_refs_stored
from images_app.storage import InvalidImage, image_store, store_image_bytes
from images_app.thumbnails import delete_thumbnails

IMAGE_UPDATES = UpdateTarget(label="Image", model=Image, tag_link=ImageTag, tag_link_field="image")
DELETE_REASONS = {"not_found": "Image not found", "image_in_use": "Image in use by active task"}


# Whether an image is needed by a pending or running task (D28); tasks_app registers its check.
image_in_use = InUseChecks("image")


def delete_image(pk) -> None:
    """Delete an image row and, after commit, its file (models using it as cover lose the cover: models_app).

    Raises APIError 404 not_found, or 409 image_in_use while an active task needs it as control image.
    """
    def write():
        # locked first: a concurrent writer linking to it (a tag update, a task's control image) either finished
        # before (its rows are then seen and deleted or counted as in use) or waits and then finds it gone
        image = Image.objects.select_for_update().filter(pk=pk).first() if is_sha256(pk) else None
        if image is None:
            raise not_found(f"Image {pk} not found")
        if image_in_use(image):
            raise APIError(409, "image_in_use", f"Image {pk} is used by a pending or running task")
        ext = image.extension
        image.delete()
        transaction.on_commit(lambda: remove_image_file(pk, ext))

    write_transaction(write, tags=True)  # the delete cascades to its tag links


def remove_image_file(sha256, ext):
    if not Image.objects.filter(pk=sha256).exists():  # stored again meanwhile: keep the file
        image_store().delete(sha256, ext)
        delete_thumbnails(sha256)


def delete_image_rows(queryset):
    """Admin bulk delete: rows now, files after commit (no in-use checks: the admin may override); the rows locked
    first, in key order, like `delete_image`."""
    def write():
        rows = Image.objects.select_for_update().filter(pk__in=queryset.values("pk")).order_by("pk")
        files = [(image.hash, image.extension) for image in rows]
        queryset.delete()
        for sha256, ext in files:
            transaction.on_commit(lambda sha256=sha256, ext=ext: remove_image_file(sha256, ext))

    write_transaction(write, tags=True)


# --- import of local files and folders -------------------------------------------------------------------------

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp"}


@dataclass
class ImageImportReport:
    files: int = 0
    imported: list = field(default_factory=list)  # (path, Image)
    known: int = 0
    with_generation: int = 0  # new images whose metadata says how they were made
    skipped: list = field(default_factory=list)  # (path, reason)


def image_files(paths, report: ImageImportReport) -> list[Path]:
    """The image files under `paths` (core.file_walk: files as given, folders recursively in name order, symlink
    loops walked once); other files are skipped with the reason."""
    found = []
    for path, _ in walk_files(paths, report.skipped).items():
        if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
            found.append(Path(path))
        else:
            report.skipped.append((path, "not a PNG, JPEG or WebP file"))
    report.files = len(found)
    return found


def import_image_file(path, max_pixels=None):
    """Store one image file (D25) with what its PNG text chunks say of how it was made
    (images_app.generation: A1111 infotext, InvokeAI, ComfyUI) as metadata keys and seed. Returns
    (Image, created); InvalidImage or OSError when it cannot be stored (then nothing is)."""
    data = Path(path).read_bytes()
    existing = Image.objects.filter(pk=hashlib.sha256(data).hexdigest()).first()
    if existing is not None:  # known bytes: nothing to decode
        return existing, False
    metadata, seed = generation_metadata(png_text_chunks(data))
    image, created = store_image_bytes(data, seed=seed, metadata=metadata, max_pixels=max_pixels)
    if created:
        store_model_refs([image])
    return image, created


def store_model_refs(images) -> None:
    """Record the models `images` name by hash (images_app.generation.model_refs) and let models_app link them to
    those already in the library; a model imported later is linked when it arrives (models_app/links.py)."""
    rows = [ImageModelRef(image=image, role=role, hash=digest, name=name)
            for image in images for role, digest, name in model_refs(image.metadata)]
    if not rows:
        return
    with transaction.atomic():
        ImageModelRef.objects.bulk_create(rows, ignore_conflicts=True)
        model_refs_stored.send(sender=ImageModelRef, image_hashes=sorted({row.image_id for row in rows}))


def import_images(paths, max_pixels=None, progress=lambda files: files) -> ImageImportReport:
    report = ImageImportReport()
    for path in progress(image_files(paths, report)):
        try:
            image, created = import_image_file(path, max_pixels)
        except (InvalidImage, OSError) as exc:
            report.skipped.append((str(path), exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)))
            continue
        if created:
            report.imported.append((str(path), image))
            report.with_generation += "generator" in image.metadata
        else:
            report.known += 1
    return report
