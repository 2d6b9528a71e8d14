"""A full disk (issue 8, item 10): no temporary file left behind, 507 insufficient_storage, deletes still work.

Runs on a real 2 MiB tmpfs holding the content stores, so it needs root (CI runs as root); skipped elsewhere.
"""

import contextlib
import errno
import hashlib
import os
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from core.content_store import ContentStore
from images_app.models import Image
from images_app.storage import image_file_path, store_image_bytes
from tests.support.api import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def noise_png(side):
    """An incompressible PNG of about 3 * side**2 bytes."""
    import io

    buffer = io.BytesIO()
    PILImage.frombytes("RGB", (side, side), os.urandom(3 * side * side)).save(buffer, "PNG")
    return buffer.getvalue()


@contextlib.contextmanager
def tmpfs(folder, size="2m"):
    """A tmpfs of `size` mounted on `folder` (created) for the block; skips the test where it cannot be mounted."""
    if os.geteuid() != 0:
        reason = "full-disk tests mount a tmpfs and need root (CI runs as root)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.fixture
def small_disk(tmp_path, settings):
    """A 2 MiB tmpfs holding the models, images and cache stores."""
    with tmpfs(tmp_path / "disk") as disk:
        settings.SDHOST = {**settings.SDHOST, "MODELS_PATH": disk / "models", "IMAGES_PATH": disk / "images",
                           "CACHE_PATH": disk / "cache"}
        yield disk


def fill(disk):
    """Take all the space left on `disk`; returns the filler file (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def temp_files(store_root):
    tmp = store_root / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def test_put_bytes_on_a_full_disk_raises_enospc_and_leaves_no_temp_file(small_disk):
    store = ContentStore(small_disk / "images")
    store.put_bytes(hashlib.sha256(b"x").hexdigest(), "bin", b"x")  # the store's folders exist
    fill(small_disk)
    for size in (1000, 256 * 1024):  # within the write buffer (fails at flush, and again at close) and beyond it
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        with pytest.raises(OSError) as raised:
            store.put_bytes(sha, "bin", data)
        assert raised.value.errno == errno.ENOSPC
        assert temp_files(store.root) == []
        assert not store.path(sha, "bin").exists()
    with pytest.raises(OSError):
        store.put_file([data[:100_000], data[100_000:]], "bin")
    assert temp_files(store.root) == []


def test_upload_on_a_full_disk_is_507_then_deletes_work_and_free_space_is_usable_again(api, small_disk):
    kept, _ = store_image_bytes(noise_png(200))
    kept_file = image_file_path(kept)
    filler = fill(small_disk)
    data = noise_png(300)

    response = api.post("/api/images/upload", {"file": SimpleUploadedFile("big.png", data, "image/png")})
    error = assert_error(response, 507, "insufficient_storage")
    assert "disk is full" in error["detail"]
    raw = api.post("/api/images/upload", data, content_type="image/png")
    assert_error(raw, 507, "insufficient_storage")
    assert list(Image.objects.values_list("hash", flat=True)) == [kept.hash]
    assert temp_files(small_disk / "images") == []

    deleted = api.delete(f"/api/images/{kept.hash}")  # on the full disk
    assert deleted.status_code == 200, deleted.content
    assert not kept_file.exists() and not Image.objects.exists()

    filler.unlink()
    again = api.post("/api/images/upload", {"file": SimpleUploadedFile("big.png", data, "image/png")})
    assert again.status_code == 201, again.content
    assert image_file_path(Image.objects.get()).read_bytes() == data


def test_a_database_that_cannot_grow_is_507_too(small_disk):
    import sqlite3

    from django.db import OperationalError

    from core.errors import to_api_error

    db = sqlite3.connect(small_disk / "full.sqlite3")
    db.execute("CREATE TABLE t (b BLOB)")
    fill(small_disk)
    with pytest.raises(sqlite3.OperationalError) as raised:
        db.execute("INSERT INTO t VALUES (?)", (os.urandom(64 * 1024),))
        db.commit()
    db.close()
    error = to_api_error(OperationalError(*raised.value.args))  # as Django's database wrapper re-raises it
    assert (error.status, error.code) == (507, "insufficient_storage")
