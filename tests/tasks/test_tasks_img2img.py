"""img2img, inpainting, hires fix and upscale tasks through the API (D36-D38): validation, protection, real renders.

Renders go HTTP API -> queue -> the real worker -> stored PNGs, on tiny random-weight models (CPU).
"""

import io
import time

import numpy as np
import pytest
from PIL import Image as PILImage

from engine.tiny_models import write_model_file
from images_app.models import Image
from images_app.storage import image_file_path, store_image_bytes
from models_app.services import import_model_file
from tasks_app import worker
from tasks_app.models import Task
from tests.support.api import assert_error
from tests.support.factories import make_model
from tests.support.worker import render_task, wait_done

TIMEOUT = 120


def png(size=(64, 64), color=None, mode="RGB", paste=None) -> bytes:
    """PNG bytes: random noise, or a flat colour with an optional (box, value) pasted in."""
    if color is None:
        rng = np.random.default_rng(size[0] * 1000 + size[1])
        image = PILImage.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    else:
        image = PILImage.new(mode, size, color)
    if paste is not None:
        image.paste(paste[1], paste[0])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def stored(data: bytes) -> Image:
    return store_image_bytes(data)[0]




def pixels(image: Image) -> np.ndarray:
    with PILImage.open(image_file_path(image)) as file:
        return np.asarray(file.convert("RGB")).astype(np.int16)


def parameters(image: Image) -> str:
    with PILImage.open(image_file_path(image)) as file:
        return file.info["parameters"]


# --- validation (no worker) --------------------------------------------------------------------------------------

@pytest.fixture
def checkpoint(db):
    return make_model(base_model="SD1.5")


def submit(api, checkpoint, **fields):
    return api.post_json("/api/tasks", {"checkpoint_hash": checkpoint.hash, "prompt": "a cat", "width": 64,
                                        "height": 64, "steps": 4, **fields})


@pytest.mark.parametrize("fields,pointer", [
    ({"init_image": "0" * 64}, "/init_image"),
    ({"init_image": 5}, "/init_image"),
    ({"init_image": "IMAGE", "denoising_strength": 1.5}, "/denoising_strength"),
    ({"init_image": "IMAGE", "denoising_strength": "high"}, "/denoising_strength"),
    ({"denoising_strength": 0.5}, "/denoising_strength"),
    ({"mask_image": "IMAGE"}, "/mask_image"),
    ({"init_image": "IMAGE", "mask_image": "f" * 64}, "/mask_image"),
    ({"init_image": "IMAGE", "mask_image": "IMAGE", "mask_blur": 65}, "/mask_blur"),
    ({"init_image": "IMAGE", "hires": {"scale": 2}}, "/hires"),
    ({"hires": {"scale": 5}}, "/hires/scale"),
    ({"width": 1024, "height": 1024, "hires": {"scale": 2.5}}, "/hires/scale"),
    ({"hires": {"scale": 2, "width": 128, "height": 128}}, "/hires/scale"),
    ({"hires": {"width": 120, "height": 32}}, "/hires/height"),
    ({"hires": {"width": 100, "height": 128}}, "/hires/width"),
    ({"hires": {"steps": 4}}, "/hires"),
    ({"hires": {"scale": 2, "steps": -1}}, "/hires/steps"),
    ({"hires": {"scale": 2, "denoising_strength": 2}}, "/hires/denoising_strength"),
    ({"hires": {"scale": 2, "upscaler": "Bicubic"}}, "/hires/upscaler"),
    ({"hires": {"scale": 2, "upscaler": "CHECKPOINT"}}, "/hires/upscaler"),
    ({"hires": {"scale": 2, "sharpen": True}}, "/hires/sharpen"),
    ({"hires": [2]}, "/hires"),
])
def test_bad_image_fields_are_400_on_their_pointer_and_store_nothing(api, checkpoint, fields, pointer):
    image = stored(png())
    fields = {key: (value.replace("IMAGE", image.hash) if isinstance(value, str) else value)
              for key, value in fields.items()}
    if isinstance(fields.get("hires"), dict) and fields["hires"].get("upscaler") == "CHECKPOINT":
        fields["hires"]["upscaler"] = checkpoint.hash
    assert_error(submit(api, checkpoint, **fields), 400, "invalid_request", pointer=pointer)
    assert not Task.objects.exists()


def test_a_model_hash_is_not_an_image(api, checkpoint):
    error = assert_error(submit(api, checkpoint, init_image=checkpoint.hash), 400, "invalid_request",
                         pointer="/init_image")
    assert checkpoint.hash in error["detail"]


def test_stored_fields_and_resource_attributes(api, checkpoint):
    init, mask = stored(png()), stored(png(color=0, mode="L"))
    response = submit(api, checkpoint, init_image=init.hash, mask_image=mask.hash, denoising_strength=0.4,
                      mask_blur=8)
    assert response.status_code == 202, response.content
    task = api.get(f"/api/tasks/{response.json()['task_id']}").json()["data"]
    attributes, relationships = task["attributes"], task["relationships"]
    assert (attributes["kind"], attributes["denoising_strength"], attributes["mask_blur"]) == ("render", 0.4, 8)
    assert attributes["hires"] is None
    assert relationships["init_image"]["data"] == {"type": "image", "id": init.hash}
    assert relationships["mask_image"]["data"] == {"type": "image", "id": mask.hash}

    upscaler = make_model(model_type="upscaler")
    response = submit(api, checkpoint, hires={"scale": 1.5, "upscaler": upscaler.hash})
    task = api.get(f"/api/tasks/{response.json()['task_id']}?include=upscaler").json()
    assert task["data"]["attributes"]["hires"] == {"scale": 1.5, "width": 96, "height": 96, "steps": 0,
                                                   "denoising_strength": 0.7, "upscaler": upscaler.hash}
    assert task["included"][0]["id"] == upscaler.hash


def test_init_and_mask_images_of_active_tasks_cannot_be_deleted(api, checkpoint):
    """D28's rule extends to init and mask images: 409 while the task is pending or running."""
    init, mask = stored(png()), stored(png(color=255, mode="L"))
    task_id = submit(api, checkpoint, init_image=init.hash, mask_image=mask.hash).json()["task_id"]
    for image in (init, mask):
        assert_error(api.delete(f"/api/images/{image.hash}"), 409, "image_in_use")
        assert image_file_path(image).is_file()
    response = api.delete_json("/api/images", {"hashes": [init.hash]})
    assert response.json()["failed"] == [{"hash": init.hash, "reason": "Image in use by active task"}]
    assert api.delete_json("/api/tasks", {"task_ids": [task_id]}).json()["cancelled"] == [task_id]
    assert api.delete(f"/api/images/{init.hash}").status_code == 200
    assert Task.objects.get(id=task_id).init_image_id is None


def test_upscaler_model_of_an_active_task_cannot_be_deleted(api, checkpoint):
    upscaler = make_model(model_type="upscaler")
    submit(api, checkpoint, hires={"scale": 2, "upscaler": upscaler.hash})
    assert_error(api.delete(f"/api/models/{upscaler.hash}"), 409, "model_in_use")


def test_upscale_endpoint_validation(api):
    image = stored(png())
    checkpoint = make_model()
    url = f"/api/images/{image.hash}/upscale"
    assert_error(api.post_json(f"/api/images/{'e' * 64}/upscale", {}), 404, "not_found")
    assert_error(api.post_json(url, {"scale": 0.5}), 400, "invalid_request", pointer="/scale")
    assert_error(api.post_json(url, {"upscaler": checkpoint.hash}), 400, "invalid_request", pointer="/upscaler")
    assert_error(api.post_json(url, {"upscaler": "Latent"}), 400, "invalid_request", pointer="/upscaler")
    assert_error(api.post_json(url, {"size": 2}), 400, "invalid_request", pointer="/size")
    assert_error(api.post_json(url, b""), 400, "invalid_request")  # an empty body; `{}` asks for the defaults
    assert not Task.objects.exists()


def test_config_lists_the_built_in_upscalers(api):
    generation = api.get("/api/config").json()["generation"]
    assert generation["upscalers"] == ["Latent", "Latent (nearest-exact)", "Lanczos"]


# --- real renders through the worker -----------------------------------------------------------------------------

@pytest.fixture
def library(transactional_db, tmp_path):
    return {
        "checkpoint": import_model_file(write_model_file(tmp_path / "ckpt.safetensors", seed=0), name="tiny")[0],
        "controlnet": import_model_file(write_model_file(tmp_path / "cn.safetensors", kind="controlnet", seed=1),
                                        name="tiny-cn")[0],
        "upscaler": import_model_file(write_model_file(tmp_path / "4x.pth", kind="upscaler", seed=2),
                                      name="4x-tiny")[0],
    }





def test_img2img_and_inpainting_end_to_end(api, library, render_worker):
    init = stored(png(size=(96, 64)))  # another aspect: scaled and centre-cropped
    mask = stored(png(size=(128, 128), color=0, mode="L", paste=((64, 0, 128, 128), 255)))  # another size: fitted
    control = stored(png(color=(255, 255, 255)))
    body = {"checkpoint_hash": library["checkpoint"].hash, "prompt": "a valley", "width": 64, "height": 64,
            "steps": 4, "sampler": "Euler", "seed": 5, "init_image": init.hash, "denoising_strength": 0.5}
    _, [image] = render_task(api, body)
    assert (image.width, image.height) == (64, 64)
    assert "Denoising strength: 0.5" in parameters(image) and "Mask blur" not in parameters(image)

    _, [painted] = render_task(api, {**body, "mask_image": mask.hash, "mask_blur": 2, "denoising_strength": 0.9,
                             "additional_models": [{"model_hash": library["controlnet"].hash,
                                                    "control_image": control.hash}]})
    with PILImage.open(image_file_path(init)) as source:
        kept = np.asarray(source.crop((16, 0, 80, 64))).astype(np.int16)  # 96x64 fitted to 64x64
    result = pixels(painted)
    assert np.abs(result[:, :26] - kept[:, :26]).max() <= 1  # black half unchanged
    assert np.abs(result[:, 38:] - kept[:, 38:]).mean() > 20  # white half repainted
    assert "Denoising strength: 0.9, Mask blur: 2" in parameters(painted)


def test_hires_end_to_end_latent_and_model(api, library, render_worker):
    body = {"checkpoint_hash": library["checkpoint"].hash, "prompt": "a valley", "width": 64, "height": 64,
            "steps": 3, "sampler": "Euler", "seed": 9}
    task, [latent] = render_task(api, {**body, "hires": {"scale": 2}})
    assert (latent.width, latent.height) == (128, 128) and pixels(latent).shape == (128, 128, 3)
    assert "Size: 64x64" in parameters(latent)
    assert "Hires upscale: 2, Hires upscaler: Latent" in parameters(latent)
    _, [model] = render_task(api, {**body, "hires": {"width": 128, "height": 96, "steps": 2, "denoising_strength": 0.5,
                                             "upscaler": library["upscaler"].hash}})
    assert (model.width, model.height) == (128, 96)
    assert "Hires resize: 128x96, Hires steps: 2, Hires upscaler: 4x-tiny" in parameters(model)


def test_upscale_task_end_to_end(api, library, render_worker):
    source = stored(png())
    task, [image] = render_task(api, {"upscaler": library["upscaler"].hash, "scale": 4},
                        url=f"/api/images/{source.hash}/upscale")
    assert (task.kind, task.checkpoint_id, task.init_image_id) == ("upscale", None, source.hash)
    assert (image.width, image.height) == (256, 256) and image.task_id == task.id
    assert parameters(image) == "Postprocess upscale by: 4, Postprocess upscaler: 4x-tiny"
    _, [lanczos] = render_task(api, {"scale": 1.5}, url=f"/api/images/{source.hash}/upscale")
    assert (lanczos.width, lanczos.height) == (96, 96)
    document = api.get(f"/api/tasks/{task.id}").json()["data"]
    assert document["attributes"]["kind"] == "upscale" and document["attributes"]["upscale_scale"] == 4
    assert document["relationships"]["checkpoint"]["data"] is None


def test_cancel_in_the_second_hires_pass_keeps_nothing(api, library, render_worker):
    body = {"checkpoint_hash": library["checkpoint"].hash, "prompt": "a valley", "width": 64, "height": 64,
            "steps": 2, "sampler": "Euler", "seed": 3, "hires": {"width": 256, "height": 256, "steps": 200,
                                                                 "denoising_strength": 0.99}}
    task_id = api.post_json("/api/tasks", body).json()["task_id"]
    deadline = time.monotonic() + TIMEOUT
    while worker.current_progress().get(task_id, 0) * 200 < 3:  # 2 first-pass steps + 1 of the second's 198
        assert time.monotonic() < deadline and Task.objects.get(id=task_id).status in ("pending", "running")
        time.sleep(0.01)
    assert api.delete_json("/api/tasks", {"task_ids": [task_id]}).json()["cancelled"] == [task_id]
    assert wait_done(task_id) == "cancelled"
    while task_id in worker.current_progress():  # the worker is leaving the render
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not Image.objects.filter(task_id=task_id).exists() and Task.objects.get(id=task_id).status == "cancelled"


def test_queue_snapshot_names_the_upscaler_of_upscale_tasks(api):
    from tasks_app import queue

    image = stored(png())
    upscaler = make_model(name="4x-ultra", model_type="upscaler")
    api.post_json(f"/api/images/{image.hash}/upscale", {"upscaler": upscaler.hash, "scale": 2})
    api.post_json(f"/api/images/{image.hash}/upscale", {})
    assert [entry["model"] for entry in queue.snapshot()["queue"]] == ["4x-ultra", "Lanczos"]
    assert queue.estimated_time(Task.objects.filter(upscaler=None).get().id) != "00:00:00"
