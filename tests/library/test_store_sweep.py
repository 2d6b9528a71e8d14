"""Self-healing stores (issue 8, item 9): the sweep removes old leftovers and keeps everything in use."""

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from core.content_store import writer_host
from core.store_sweep import sweep_all
from images_app.storage import image_file_path, image_store, thumbnail_store
from models_app.storage import model_file_path, model_store
from tests.support.factories import make_image, make_model, png_bytes

pytestmark = pytest.mark.django_db
HOUR = 3600
ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import sys, time
from core.content_store import ContentStore

def chunks():
    yield b"partial"
    print("writing", flush=True)
    time.sleep(600)
    yield b"never"

ContentStore(sys.argv[1]).put_file(chunks(), "bin")
"""


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


def writer_mid_write(store):
    """A real process storing into `store`, stopped in the middle of writing its temporary file: (process, file)."""
    before = set((store.root / "tmp").glob("*")) if (store.root / "tmp").exists() else set()
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(store.root)], cwd=ROOT, stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "writing"
    [path] = set((store.root / "tmp").glob("*")) - before
    return process, path


def killed_writer(store):
    """The temporary file of a writer killed with SIGKILL while storing (young: the grace period keeps it)."""
    process, path = writer_mid_write(store)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    process.stdout.close()
    return process.pid, path


def test_a_killed_writer_s_temporary_file_is_removed_at_once_and_live_writers_files_are_kept():
    images = image_store()
    live, live_file = writer_mid_write(images)
    try:
        dead_pid, killed_file = killed_writer(images)
        own = temp_file(images, 0)  # this process, alive
        elsewhere = images.root / "tmp" / f"{dead_pid}@not-{writer_host()}@x.part"  # another machine's: unsure
        elsewhere.write_bytes(b"x")
        # a dead pid on this host, but a live process holds its lock (a writer in another pid namespace)
        namespaced = images.root / "tmp" / f"{dead_pid}@{writer_host()}@y.part"
        namespaced.write_bytes(b"x")
        with open(namespaced, "rb") as held:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            [result] = [r for r in sweep_all(HOUR) if r.store == "images"]
        assert result.temp_files == [killed_file.name] and not killed_file.exists()
        assert all(p.exists() for p in (live_file, own, elsewhere, namespaced))

        [result] = [r for r in sweep_all(HOUR) if r.store == "images"]  # the lock released
        assert result.temp_files == [namespaced.name]
        assert live.poll() is None and live_file.exists()
    finally:
        live.kill()
        live.wait(30)
        live.stdout.close()
