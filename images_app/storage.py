"""Where image files live, and the one way images enter the library."""

import hashlib
import io
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from core.content_store import ContentStore
from core.store_sweep import SweptStore
from core.text import control_character_problem
from engine.a1111.infotext import INFOTEXT_MAX_LENGTH, PNG_TEXT_KEY
from images_app.models import Image

log = logging.getLogger(__name__)
PIL_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}


class InvalidImage(ValueError):
    """The bytes are not a PNG, JPEG or WebP image Pillow can decode."""


def image_store() -> ContentStore:
    return ContentStore(settings.SDHOST["IMAGES_PATH"])


def thumbnail_store() -> ContentStore:
    """Cache of thumbnails (images_app.thumbnails; named `<hash>.<size>.webp`); safe to delete at any time."""
    return ContentStore(settings.SDHOST["CACHE_PATH"] / "thumbnails")


def image_file_path(image):
    return image_store().path(image.hash, image.extension)


def inspect_image(data: bytes, max_pixels=None):
    """(format, width, height, png_parameters) of image bytes, verified with Pillow.

    With `max_pixels`, a larger image is refused from its header, before anything is decoded. A `parameters`
    chunk over INFOTEXT_MAX_LENGTH characters is left out (None): it would be stored in the metadata and
    returned by every list read; so is one with control characters other than line breaks (docs/input.md)."""
    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            if max_pixels is not None and probe.width * probe.height > max_pixels:
                raise InvalidImage(
                    f"Image of {probe.width}x{probe.height} pixels exceeds the limit of {max_pixels} pixels "
                    "(SDHOST_MAX_IMAGE_PIXELS)"
                )
            probe.verify()
        with PILImage.open(io.BytesIO(data)) as img:
            fmt = PIL_FORMATS.get(img.format)
            if fmt is None:
                raise InvalidImage(f"Unsupported image format {img.format}; PNG, JPEG or WebP expected")
            img.load()
            parameters = img.info.get(PNG_TEXT_KEY) if fmt == "png" else None
            if parameters is not None and (not isinstance(parameters, str) or len(parameters) > INFOTEXT_MAX_LENGTH):
                log.warning("PNG '%s' chunk of %s characters left out (at most %s are read)", PNG_TEXT_KEY,
                            len(parameters), INFOTEXT_MAX_LENGTH)
                parameters = None
            if parameters is not None and (problem := control_character_problem(parameters)):
                log.warning("PNG '%s' chunk left out: it %s", PNG_TEXT_KEY, problem)  # PostgreSQL stores no NUL
                parameters = None
            return fmt, img.width, img.height, parameters
    except InvalidImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, PILImage.DecompressionBombError) as exc:
        raise InvalidImage(f"Not a decodable image: {exc}") from exc


def store_image_bytes(data: bytes, *, task=None, seed=None, metadata=None, max_pixels=None):
    """Add image bytes to the library (D4, D25). Returns (image, created).

    The id is the SHA256 of the bytes; storing the same bytes again returns the existing row.
    A PNG `parameters` chunk is copied into metadata["parameters"]. Images from outside (uploads, imports)
    pass `max_pixels` (settings.SDHOST["MAX_IMAGE_PIXELS"]); renders are bounded by MAX_IMAGE_SIDE instead.
    """
    fmt, width, height, parameters = inspect_image(data, max_pixels)
    sha = hashlib.sha256(data).hexdigest()
    existing = Image.objects.filter(hash=sha).first()
    if existing is not None:
        return existing, False
    meta = dict(metadata or {})
    if parameters and "parameters" not in meta:
        meta["parameters"] = parameters
    store = image_store()
    ext = "jpg" if fmt == "jpeg" else fmt
    store.put_bytes(sha, ext, data)
    try:
        with transaction.atomic():
            image = Image.objects.create(
                hash=sha, task=task, width=width, height=height, size=len(data),
                seed=seed, metadata=meta, format=fmt,
            )
    except IntegrityError:
        image = Image.objects.filter(hash=sha).first()
        if image is None:
            raise
        return image, False
    return image, True


def referenced_images(hashes):
    return Image.objects.filter(hash__in=hashes).values_list("hash", flat=True)


def swept_stores():
    """The stores this app owns, for core.store_sweep: image files, and the thumbnail cache."""
    return {
        "images": lambda: SweptStore("images", image_store(), referenced_images),
        "thumbnails": lambda: SweptStore(
            "thumbnails", thumbnail_store(), referenced_images),
    }


def delete_image_file(image):
    image_store().delete(image.hash, image.extension)
