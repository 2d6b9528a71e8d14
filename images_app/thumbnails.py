"""Thumbnails of stored images: resized with Pillow, cached as WebP in the thumbnail store (CACHE_PATH).

An image's bytes never change (its id is their SHA256), so a thumbnail is computed once per size and kept
until the image is deleted or the cache is emptied; the store sweep drops thumbnails of deleted images.
"""

import io

from PIL import Image as PILImage

from images_app.storage import image_file_path, thumbnail_store

SIZES = (64, 128, 256, 512)  # longest side in pixels; a fixed set, so the cache holds at most four per image
DEFAULT_SIZE = 256
CONTENT_TYPE = "image/webp"


def cached_thumbnail(sha256, size):
    """Path of a thumbnail already in the cache, else None. Needs no database: thumbnails are deleted with
    their image (after its commit; the store sweep removes any a crash left behind)."""
    path = thumbnail_store().path(sha256, f"{size}.webp")
    return path if path.is_file() else None


def thumbnail_path(image, size=DEFAULT_SIZE):
    """Path of the cached thumbnail of `image` whose longest side is at most `size` (made on first use).

    Raises FileNotFoundError when the image file is missing from the store."""
    store = thumbnail_store()
    target = store.path(image.hash, f"{size}.webp")
    if not target.exists():
        store.put_bytes(image.hash, f"{size}.webp", render_thumbnail(image_file_path(image), size))
    return target


def render_thumbnail(source_path, size) -> bytes:
    with PILImage.open(source_path) as source:
        source.thumbnail((size, size), PILImage.Resampling.LANCZOS)
        picture = source if source.mode in ("RGB", "RGBA") else source.convert("RGBA")
        buffer = io.BytesIO()
        picture.save(buffer, "WEBP", quality=82, method=4)
    return buffer.getvalue()


def thumbnail_etag(sha256, size):
    return f"{sha256}-{size}"


def delete_thumbnails(sha256):
    store = thumbnail_store()
    for size in SIZES:
        store.delete(sha256, f"{size}.webp")
