"""The real A1111 client (`webuiapi`, PyPI) against a live SD-Host: renders with tiny checkpoints through the
task queue and the in-process worker (D39)."""

import json
import threading
import time

import pytest
import requests
from PIL import Image as PILImage
from PIL import ImageDraw

from images_app.models import Image
from images_app.storage import image_file_path
from tasks_app.models import Task, TaskImage
from tests.a1111.conftest import picture
from tests.support.worker import wait_done

SMALL = {"width": 64, "height": 64, "steps": 2, "cfg_scale": 5.0}


def test_txt2img_batches_seeds_and_library(webui, library, render_worker):
    result = webui.txt2img(prompt="a red fox", negative_prompt="blurry", seed=1234, batch_size=2, n_iter=2, **SMALL)
    assert len(result.images) == 4
    assert all(image.size == (64, 64) for image in result.images)
    info = result.info
    assert info["seed"] == 1234 and info["all_seeds"] == [1234, 1235, 1236, 1237]
    assert len(info["infotexts"]) == 4 and "Seed: 1235" in info["infotexts"][1]
    assert info["sd_model_name"] == "tiny" and info["sd_model_hash"] == library["checkpoint"].hash[:10]
    assert info["ignored"] == []
    assert result.parameters["prompt"] == "a red fox" and result.parameters["n_iter"] == 2
    assert result.image.info["parameters"] == info["infotexts"][0]  # the PNG itself carries its infotext
    # the same queue and library as POST /api/tasks: two tasks of two images, tagged, stored with their seeds
    tasks = Task.objects.filter(id__in=info["task_ids"])
    assert sorted(task.batch_size for task in tasks) == [2, 2]
    assert all(task.tags.filter(name="sdapi").exists() for task in tasks)
    assert sorted(Image.objects.filter(task__in=tasks).values_list("seed", flat=True)) == [1234, 1235, 1236, 1237]


def test_txt2img_same_seed_same_pixels_and_hires(webui, library, render_worker):
    first = webui.txt2img(prompt="a lighthouse", seed=7, **SMALL)
    again = webui.txt2img(prompt="a lighthouse", seed=7, **SMALL)
    assert first.image.tobytes() == again.image.tobytes()
    hires = webui.txt2img(prompt="a lighthouse", seed=7, enable_hr=True, hr_scale=2, hr_upscaler="Latent",
                          hr_second_pass_steps=2, denoising_strength=0.6, **SMALL)
    assert hires.image.size == (128, 128)
    assert "Hires upscale: 2" in hires.info["infotexts"][0] and "Denoising strength: 0.6" in hires.info["infotexts"][0]


def test_img2img_and_inpainting_with_a_mask(webui, library, render_worker):
    source = PILImage.new("RGB", (64, 64), (200, 30, 30))
    result = webui.img2img(images=[source], prompt="a red square", seed=3, denoising_strength=0.5, **SMALL)
    assert len(result.images) == 1 and result.image.size == (64, 64)
    assert "Denoising strength: 0.5" in result.info["infotexts"][0]
    assert result.parameters["init_images"] is None and result.parameters["denoising_strength"] == 0.5
    assert result.parameters["image_cfg_scale"] == 1.5  # A1111 fields we do not use are echoed all the same
    mask = PILImage.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, 31, 63), fill=255)  # repaint the left half only
    painted = webui.img2img(images=[source], mask_image=mask, mask_blur=0, prompt="a blue square", seed=3,
                            denoising_strength=1.0, inpainting_fill=1, **SMALL)
    pixels = painted.image.convert("RGB").load()
    assert pixels[60, 32] == (200, 30, 30)  # the kept half is the source
    assert pixels[4, 32] != (200, 30, 30)
    task = Task.objects.get(id=painted.info["task_ids"][0])
    assert task.init_image is not None and task.mask_image is not None and task.mask_blur == 0


def test_models_loras_and_options(webui, library, render_worker):
    titles = webui.util_get_model_names()
    assert titles == sorted([f"tiny-2.safetensors [{library['other'].hash[:10]}]",
                             f"tiny.safetensors [{library['checkpoint'].hash[:10]}]"])
    assert webui.util_get_current_model() == f"tiny.safetensors [{library['checkpoint'].hash[:10]}]"  # first by name
    assert {lora["name"] for lora in webui.get_loras()} == {"detail"}
    webui.util_set_model("tiny-2")  # the client's closest-name match, then POST /options
    assert webui.util_get_current_model() == f"tiny-2.safetensors [{library['other'].hash[:10]}]"
    webui.set_options({"sd_vae": "tiny-vae.safetensors", "CLIP_stop_at_last_layers": 2, "unknown_option": 1})
    options = webui.get_options()
    assert options["sd_vae"] == "tiny-vae.safetensors" and options["CLIP_stop_at_last_layers"] == 2
    result = webui.txt2img(prompt="<lora:detail:0.5> a cat", seed=5, **SMALL)
    assert result.info["sd_model_name"] == "tiny-2" and result.info["clip_skip"] == 2
    text = result.info["infotexts"][0]
    assert "Model: tiny-2" in text and "Clip skip: 2" in text and "VAE: tiny-vae" in text and "Lora hashes" in text
    # an override for one request leaves the stored option alone
    tiny = webui.txt2img(prompt="a cat", seed=5, override_settings={"sd_model_checkpoint": "tiny"}, **SMALL)
    assert tiny.info["sd_model_name"] == "tiny"
    assert webui.util_get_current_model().startswith("tiny-2.safetensors")


def test_interrupt_during_a_render(webui, library, render_worker):
    box = {}

    def render():
        box["result"] = webui.txt2img(prompt="slow", seed=1, width=64, height=64, steps=150, n_iter=3)

    thread = threading.Thread(target=render)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress = webui.get_progress()
        if progress["progress"] > 0:
            break
        time.sleep(0.05)
    assert 0 < progress["progress"] < 1 and progress["state"]["sampling_steps"] == 150
    assert progress["state"]["job_count"] == 3
    webui.interrupt()
    thread.join(60)
    assert not thread.is_alive()
    result = box["result"]
    assert result.images == [] and result.info["interrupted"] is True
    assert set(Task.objects.filter(id__in=result.info["task_ids"]).values_list("status", flat=True)) == {"cancelled"}
    assert webui.get_progress()["progress"] == 0


def test_png_info_reads_back_the_parameters(webui, library, render_worker):
    result = webui.txt2img(prompt="a (tall:1.2) tower", negative_prompt="fog", seed=11, **SMALL)
    info = webui.png_info(result.image)
    assert info.info == result.info["infotexts"][0]
    parameters = info.json["parameters"]
    assert parameters["Prompt"] == "a (tall:1.2) tower" and parameters["Negative prompt"] == "fog"
    assert parameters["Seed"] == "11" and parameters["Size-1"] == "64" and parameters["Steps"] == "2"
    assert "Size" not in parameters and parameters["Sampler"] == "Euler"
    assert parameters["Clip skip"] == "1" and parameters["Schedule type"] == "Automatic"  # A1111's defaults
    assert parameters["RNG"] == "GPU" and parameters["Hires sampler"] == "Use same sampler"
    karras = webui.txt2img(prompt="a tower", seed=11, sampler_name="DPM++ 2M", scheduler="karras", **SMALL)
    assert "Sampler: DPM++ 2M, Schedule type: Karras" in karras.info["infotexts"][0]  # written apart, as A1111 1.9+
    split = webui.png_info(karras.image).json["parameters"]
    assert (split["Sampler"], split["Schedule type"]) == ("DPM++ 2M", "Karras")


def test_script_info_extensions_and_interrogate(webui):
    assert webui.custom_get("script-info", baseurl=True) == [] and webui.custom_get("extensions", baseurl=True) == []
    with pytest.raises(RuntimeError) as refused:  # webuiapi raises (status, body) on an error answer
        webui.interrogate(PILImage.new("RGB", (8, 8)))
    status, body = refused.value.args
    assert status == 501 and json.loads(body)["error"] == "NotImplementedError"


def test_basic_auth_with_the_token(base_url, library, settings):
    import webuiapi

    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    refused = requests.get(f"{base_url}/sd-models", timeout=10)
    assert refused.status_code == 401 and refused.json() == {"detail": "Incorrect username or password"}
    assert refused.headers["WWW-Authenticate"] == "Basic"
    assert requests.get(f"{base_url}/sd-models", auth=("me", "wrong"), timeout=10).status_code == 401
    bearer = requests.get(f"{base_url}/sd-models", headers={"Authorization": "Bearer s3cret"}, timeout=10)
    assert bearer.status_code == 200
    client = webuiapi.WebUIApi(baseurl=base_url, username="anyone", password="s3cret")
    assert len(client.get_sd_models()) == 2
    with pytest.raises(requests.HTTPError):
        requests.get(f"{base_url.replace('/sdapi/v1', '')}/api/models", auth=("me", "s3cret"),
                     timeout=10).raise_for_status()  # Basic is for the A1111 API only; /api keeps Bearer (D14)


def test_controlnet_common_form(webui, library, render_worker):
    import webuiapi

    control = PILImage.new("RGB", (64, 64), (255, 255, 255))
    ImageDraw.Draw(control).ellipse((16, 16, 48, 48), fill=(0, 0, 0))
    unit = webuiapi.ControlNetUnit(image=control, model=f"tiny-cn [{library['controlnet'].hash[:8]}]", weight=0.8)
    result = webui.txt2img(prompt="a circle", seed=2, controlnet_units=[unit], **SMALL)
    assert len(result.images) == 1 and result.info["ignored"] == []
    extra = Task.objects.get(id=result.info["task_ids"][0]).task_models.get()
    assert extra.model == library["controlnet"] and extra.weight == 0.8 and extra.control_image is not None
    preprocessed = webuiapi.ControlNetUnit(image=control, model="tiny-cn", module="canny")
    result = webui.txt2img(prompt="a circle", seed=2, controlnet_units=[preprocessed], **SMALL)
    assert result.info["ignored"] == ["ControlNet module canny (the image is used as the control image as given)"]


def test_skip_goes_on_with_the_next_task(webui, library, render_worker):
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=webui.txt2img(
        prompt="slow", seed=1, width=64, height=64, steps=150, n_iter=2)))
    thread.start()
    deadline = time.monotonic() + 60
    while webui.get_progress()["progress"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    webui.skip()
    while time.monotonic() < deadline:  # the second task starts; interrupt that one as well
        statuses = set(Task.objects.values_list("status", flat=True))
        if statuses == {"cancelled", "running"}:
            break
        time.sleep(0.05)
    assert statuses == {"cancelled", "running"}
    webui.interrupt()
    thread.join(60)
    assert sorted(Task.objects.values_list("status", flat=True)) == ["cancelled", "cancelled"]
    assert box["result"].info["interrupted"] is True


def test_browser_clients_get_cors_under_sdapi(base_url, library, settings):
    origin = "http://localhost:5173"
    settings.CORS_ALLOWED_ORIGINS = [origin]
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    preflight = requests.options(f"{base_url}/txt2img", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"}, timeout=10)
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == origin
    listed = requests.get(f"{base_url}/sd-models", auth=("", "s3cret"), headers={"Origin": origin}, timeout=10)
    assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == origin


def test_controlnet_extension_routes(webui, base_url, library, settings):
    assert webui.controlnet_version() == 2
    assert webui.controlnet_model_list() == [f"tiny-cn [{library['controlnet'].hash[:8]}]"]
    assert webui.controlnet_module_list() == ["none"]
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    root = base_url.removesuffix("/sdapi/v1")
    assert requests.get(f"{root}/controlnet/model_list", timeout=10).status_code == 401
    assert requests.get(f"{root}/controlnet/model_list", auth=("u", "s3cret"), timeout=10).status_code == 200
    assert requests.get(f"{root}/controlnet/detect", auth=("u", "s3cret"), timeout=10).json() == \
        {"detail": "Not Found"}


def test_extra_single_image_runs_the_upscale_task_path(webui, base_url, library, render_worker):
    source = picture()
    result = webui.extra_single_image(image=source, upscaler_1="4x-tiny", upscaling_resize=2)
    assert result.image.size == (64, 64)
    assert result.info == "<p>Postprocess upscale by: 2, Postprocess upscaler: 4x-tiny</p>"  # html_info
    assert result.image.info["parameters"] == "Postprocess upscale by: 2, Postprocess upscaler: 4x-tiny"
    task = Task.objects.get(kind="upscale")
    assert task.upscaler == library["upscaler"] and task.upscale_scale == 2 and task.status == "completed"
    assert task.tags.filter(name="sdapi").exists()
    # POST /api/images/{hash}/upscale of the same stored input gives the very same image
    root = base_url.removesuffix("/sdapi/v1")
    queued = requests.post(f"{root}/api/images/{task.init_image_id}/upscale",
                           json={"upscaler": library["upscaler"].hash, "scale": 2}, timeout=10)
    assert queued.status_code == 202, queued.text
    assert wait_done(queued.json()["task_id"]) == "completed"
    [ours] = Image.objects.filter(task_id=task.id)
    assert list(TaskImage.objects.filter(task_id=queued.json()["task_id"]).values_list("image_id", flat=True)) == \
        [ours.hash]
    assert result.image.tobytes() == PILImage.open(image_file_path(ours)).tobytes()


def test_extra_batch_images_to_a_size_with_crop(webui, library, render_worker):
    images = [picture(), picture((10, 200, 10), (32, 16))]
    result = webui.extra_batch_images(images=images, upscaler_1="Lanczos", resize_mode=1, upscaling_resize_w=48,
                                      upscaling_resize_h=40, upscaling_crop=True)
    assert [image.size for image in result.images] == [(48, 40), (48, 40)]
    assert result.info == ("<p>Postprocess upscale to: 48x40, Postprocess crop to: 48x40, "
                           "Postprocess upscaler: Lanczos</p>")
    assert sorted(Task.objects.values_list("upscale_scale", flat=True)) == [1.5, 2.5]  # max(48/w, 40/h)
    uncropped = webui.extra_batch_images(images=images[1:], upscaler_1="Lanczos", resize_mode=1,
                                         upscaling_resize_w=48, upscaling_resize_h=40, upscaling_crop=False)
    assert uncropped.images[0].size == (80, 40)
