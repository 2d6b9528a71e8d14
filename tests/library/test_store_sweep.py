"""Self-healing stores (issue 8, item 9): the sweep removes old leftovers and keeps everything in use."""

import hashlib
import os
import time

import pytest
from django.core.management import call_command

from core.store_sweep import sweep_all
from images_app.storage import image_file_path, image_store, thumbnail_store
from models_app.storage import model_file_path, model_store
from tests.support.factories import make_image, make_model, png_bytes

pytestmark = pytest.mark.django_db
HOUR = 3600


def age(path, seconds):
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def leftover(store, data, ext, seconds_old):
    """A store file no row refers to, last written `seconds_old` ago."""
    return age(store.put_bytes(hashlib.sha256(data).hexdigest(), ext, data), seconds_old)


def temp_file(store, seconds_old):
    with store.temp_file() as tmp:
        tmp.write(b"partial")
    return age(store.root / "tmp" / os.path.basename(tmp.name), seconds_old)


def test_sweep_removes_old_leftovers_and_keeps_young_ones_and_referenced_files():
    image = make_image()
    model = make_model()
    for path in (image_file_path(image), model_file_path(model)):
        age(path, 2 * HOUR)  # old, but a row refers to it
    images, models, thumbnails = image_store(), model_store(), thumbnail_store()
    old_orphans = [leftover(images, png_bytes(), "png", 2 * HOUR), leftover(models, b"w" * 100, ".safetensors", 2 * HOUR),
                   leftover(thumbnails, png_bytes(), "png", 2 * HOUR)]
    young_orphan = leftover(images, png_bytes(), "png", 60)  # maybe another process is about to insert its row
    old_temps = [temp_file(images, 2 * HOUR), temp_file(models, 2 * HOUR)]
    young_temp = temp_file(images, 60)  # maybe still being written
    foreign = images.root / "README.txt"  # not named by a hash: not the sweep's business
    foreign.write_text("x")
    age(foreign, 2 * HOUR)

    results = {r.store: r for r in sweep_all(HOUR)}

    assert not any(p.exists() for p in old_orphans + old_temps)
    assert all(p.exists() for p in (image_file_path(image), model_file_path(model), young_orphan, young_temp, foreign))
    assert results["images"].orphans == [old_orphans[0].name] and len(results["images"].temp_files) == 1
    assert results["models"].orphans == [old_orphans[1].name] and len(results["models"].temp_files) == 1
    assert results["thumbnails"].orphans == [old_orphans[2].name]


def test_bytes_stored_again_are_refreshed_so_the_sweep_keeps_them():
    data = png_bytes()
    old = leftover(image_store(), data, "png", 2 * HOUR)
    image_store().put_bytes(hashlib.sha256(data).hexdigest(), "png", data)  # a writer reuses the file
    sweep_all(HOUR)
    assert old.read_bytes() == data


def test_sweep_stores_command_reports_per_store(capsys):
    orphan = leftover(image_store(), png_bytes(), "png", 10)
    call_command("sweep_stores")
    assert orphan.exists()  # within the default grace period
    call_command("sweep_stores", grace_seconds=0)
    assert not orphan.exists()
    out = capsys.readouterr().out
    assert "images: removed 0 temporary and 1 unreferenced file(s)" in out
