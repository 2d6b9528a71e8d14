"""manage.py import_image PATH: add a PNG, JPEG or WebP file to the image library (D25)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from core.database import DatabaseCommand
from images_app.storage import InvalidImage, store_image_bytes


class Command(DatabaseCommand):
    help = "Import a PNG, JPEG or WebP file into the image library; prints its SHA256 (the image's id)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the image file")

    def handle(self, path, **options):
        try:
            image, created = store_image_bytes(Path(path).read_bytes(), max_pixels=settings.SDHOST["MAX_IMAGE_PIXELS"])
        except (InvalidImage, OSError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        self.stdout.write(image.hash)
        what = "Imported" if created else "Already in the library:"
        self.stderr.write(f"{what} {image.width}x{image.height} {image.format}, {image.size} bytes")
