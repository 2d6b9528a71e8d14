"""manage.py import_image PATH [PATH...]: add PNG, JPEG or WebP files, or folders of them, to the image library (D25)."""

import os
import sys

from django.conf import settings
from django.core.management.base import CommandError
from tqdm import tqdm

from core.database import DatabaseCommand
from images_app.services import import_image_file, import_images
from images_app.storage import InvalidImage


class Command(DatabaseCommand):
    help = (
        "Import PNG, JPEG or WebP files, or folders of them (recursively), into the image library. How each image "
        "was made (A1111 infotext, InvokeAI and ComfyUI PNG metadata) becomes its seed and metadata keys. One file: "
        "prints its SHA256 (the image's id); folders: `<sha256> <path>` per new image and a summary. Files that "
        "cannot be imported are skipped and listed."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and folders")

    def handle(self, paths, **options):
        max_pixels = settings.SDHOST["MAX_IMAGE_PIXELS"]
        if len(paths) == 1 and not os.path.isdir(paths[0]):
            try:
                image, created = import_image_file(paths[0], max_pixels=max_pixels)
            except (InvalidImage, OSError) as exc:
                raise CommandError(f"{paths[0]}: {exc}") from None
            self.stdout.write(image.hash)
            what = "Imported" if created else "Already in the library:"
            made = f", made with {image.metadata['generator']}" if created and "generator" in image.metadata else ""
            self.stderr.write(f"{what} {image.width}x{image.height} {image.format}, {image.size} bytes{made}")
            return
        report = import_images(paths, max_pixels=max_pixels, progress=lambda files: tqdm(
            files, desc="Importing", unit="image", file=sys.stderr, disable=None))
        for path, image in report.imported:
            self.stdout.write(f"{image.hash} {path}")
        self.stderr.write(f"Found {report.files} image files: {len(report.imported)} imported "
                          f"({report.with_generation} with generation metadata), {report.known} already in the "
                          f"library; {len(report.skipped)} skipped")
        for path, why in report.skipped:
            self.stderr.write(f"  skipped: {path}: {why}")
        if report.files == 0:
            raise CommandError(f"No image files under {', '.join(paths)}")
