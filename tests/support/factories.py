"""Rows and files for library tests: real images (Pillow), model files in the content store, tasks."""

import hashlib
import io
import itertools

from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

_counter = itertools.count(1)


def png_bytes(width=8, height=8, color=None, parameters=None, fmt="PNG") -> bytes:
    """A small real image; each call without `color` gives different bytes."""
    if color is None:
        n = next(_counter)
        color = (n % 256, (n // 256) % 256, (n // 65536) % 256)
    buffer = io.BytesIO()
    image = PILImage.new("RGB", (width, height), color)
    if fmt == "PNG" and parameters is not None:
        info = PngInfo()
        info.add_text("parameters", parameters)
        image.save(buffer, "PNG", pnginfo=info)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def make_image(**kwargs):
    from images_app.storage import store_image_bytes

    image, _ = store_image_bytes(png_bytes(**kwargs))
    return image


def make_model(name=None, model_type="checkpoint", status="ready", content=None, file_ext=".safetensors", **fields):
    """An SDModel whose file (unless downloading) lies in the content store."""
    from models_app.models import SDModel
    from models_app.storage import model_store

    n = next(_counter)
    content = content if content is not None else f"weights-{n}-".encode() * 50
    sha = hashlib.sha256(content).hexdigest()
    if status == "ready":
        model_store().put_bytes(sha, file_ext, content)
    return SDModel.objects.create(
        hash=sha, name=name or f"model-{n}", model_type=model_type, status=status, size=len(content),
        file_ext=file_ext, **fields,
    )


def make_task(checkpoint, status="pending", vae=None, additional=(), **fields):
    """A Task row; `additional` holds (model, control_image) pairs for task_models."""
    from tasks_app.models import Task, TaskModel

    task = Task.objects.create(checkpoint=checkpoint, vae=vae, status=status, prompt=fields.pop("prompt", "a cat"), **fields)
    for position, (model, control_image) in enumerate(additional):
        TaskModel.objects.create(task=task, model=model, control_image=control_image, position=position)
    return task


def file_sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()
