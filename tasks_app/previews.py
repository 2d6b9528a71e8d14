"""The live preview of each running task (issue 26), kept in a small file per task, not in the database.

The worker writes a task's latest preview as `CACHE_PATH/previews/<task id>/<sequence>.webp` (written to a
temporary name and renamed, so a reader never sees half a file; the older one is removed after), and removes the
task's folder when the task ends. Every process (the web process of a PostgreSQL + Redis deployment, where the
worker runs in `manage.py runworker render`) reads the latest preview from that folder: SDHOST_CACHE_PATH must be
shared between them, as it already is for resumable downloads. A task's preview is a grid of its images (one
image for batch size 1), as A1111's live preview shows the batch's grid.

SDHOST_PREVIEW (`off`, `approx`) and SDHOST_PREVIEW_EVERY (steps) choose how and how often (docs/configuration.md).
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from engine.previews import PreviewSettings

CONTENT_TYPE = "image/webp"
WEBP_QUALITY = 80
_SUFFIX = ".webp"


def preview_settings() -> PreviewSettings | None:
    """The server's preview settings, None when previews are off."""
    method, every = settings.SDHOST["PREVIEW"], settings.SDHOST["PREVIEW_EVERY"]
    return None if method == "off" or every < 1 else PreviewSettings(method, every)


def folder() -> Path:
    return Path(settings.SDHOST["CACHE_PATH"]) / "previews"


def grid(images: list):
    """The images side by side, in rows of ceil(sqrt(n)) (one image: itself)."""
    from PIL import Image

    if len(images) == 1:
        return images[0]
    columns = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    width, height = images[0].size
    sheet = Image.new("RGB", (columns * width, rows * height))
    for index, image in enumerate(images):
        sheet.paste(image, ((index % columns) * width, (index // columns) * height))
    return sheet


def encode(images: list) -> bytes:
    buffer = io.BytesIO()
    grid(images).save(buffer, "WEBP", quality=WEBP_QUALITY)
    return buffer.getvalue()


def write(task_id: str, sequence: int, images: list) -> None:
    """Store the task's preview number `sequence` (atomically), replacing the one before."""
    target = folder() / task_id
    target.mkdir(parents=True, exist_ok=True)
    data = encode(images)
    handle, temporary = tempfile.mkstemp(dir=target, prefix=".tmp-", suffix=_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, target / f"{sequence}{_SUFFIX}")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for older in target.glob(f"*{_SUFFIX}"):
        if older.stem.isdigit() and int(older.stem) < sequence:
            older.unlink(missing_ok=True)


def latest(task_id: str) -> tuple[int, Path] | None:
    """(sequence, path) of the task's newest preview, None when it has none."""
    try:
        names = os.listdir(folder() / task_id)
    except (FileNotFoundError, NotADirectoryError):
        return None
    sequences = [int(name[:-len(_SUFFIX)]) for name in names if name.endswith(_SUFFIX) and name[:-len(_SUFFIX)].isdigit()]
    if not sequences:
        return None
    newest = max(sequences)
    return newest, folder() / task_id / f"{newest}{_SUFFIX}"


def read(task_id: str) -> tuple[int, bytes] | None:
    """(sequence, WebP bytes) of the task's newest preview, None when it has none."""
    for _ in range(3):  # the worker may replace it between the listing and the read
        found = latest(task_id)
        if found is None:
            return None
        try:
            return found[0], found[1].read_bytes()
        except FileNotFoundError:
            continue
    return None


def etag(task_id: str, sequence: int) -> str:
    return f"{task_id}-{sequence}"


def discard(task_id: str) -> None:
    shutil.rmtree(folder() / task_id, ignore_errors=True)


def discard_except(task_ids) -> None:
    """Remove the previews of every task but `task_ids` (those left by a worker that stopped)."""
    keep = set(task_ids)
    try:
        entries = os.listdir(folder())
    except FileNotFoundError:
        return
    for name in entries:
        if name not in keep:
            shutil.rmtree(folder() / name, ignore_errors=True)
