"""manage.py import_image PATH (D25): stores the file, prints its hash, keeps the PNG parameters chunk."""

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from images_app.models import Image
from images_app.storage import image_file_path
from tests.support.factories import png_bytes

pytestmark = pytest.mark.django_db

PARAMETERS = ("misty pine forest at dawn\nNegative prompt: lowres\n"
              "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 2718281829, Size: 16x8")


def run(*args):
    out = io.StringIO()
    call_command("import_image", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_import_png_with_parameters(tmp_path):
    data = png_bytes(width=16, height=8, parameters=PARAMETERS)
    path = tmp_path / "forest.png"
    path.write_bytes(data)
    sha = run(str(path))
    assert sha == hashlib.sha256(data).hexdigest()
    image = Image.objects.get(pk=sha)
    assert (image.width, image.height, image.format, image.size) == (16, 8, "png", len(data))
    assert image.metadata == {
        "parameters": PARAMETERS, "generator": "a1111", "prompt": "misty pine forest at dawn",
        "negative_prompt": "lowres", "steps": 28, "sampler": "DPM++ 2M Karras", "cfg_scale": 6.5,
        "generation_size": "16x8",
    }
    assert image.seed == 2718281829
    assert image_file_path(image).read_bytes() == data
    assert run(str(path)) == sha and Image.objects.count() == 1


def test_import_jpeg(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(png_bytes(fmt="JPEG"))
    assert Image.objects.get(pk=run(str(path))).format == "jpeg"


def test_refuses_non_images_and_missing_files(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(CommandError, match="notes.png"):
        run(str(path))
    with pytest.raises(CommandError):
        run(str(tmp_path / "missing.png"))
    assert not Image.objects.exists()
