"""Every /sdapi/v1 endpoint's response against A1111's documented response models (shapes/a1111_models.json),
with plain `requests` on a live server; errors in A1111's shapes (D39)."""

import base64
import io
import json
from pathlib import Path

import jsonschema
import pytest
import requests
from PIL import Image as PILImage

from tasks_app.models import Task

MODELS = json.loads((Path(__file__).parent / "shapes" / "a1111_models.json").read_text())
SMALL = {"width": 64, "height": 64, "steps": 2, "sampler_name": "Euler", "seed": 9}
LISTINGS = ["sd-models", "sd-vae", "loras", "embeddings", "samplers", "schedulers", "upscalers",
            "latent-upscale-modes", "hypernetworks", "face-restorers", "realesrgan-models", "prompt-styles", "scripts",
            "cmd-flags", "memory", "options", "progress", "script-info", "extensions"]


def check(shape: str, document):
    schema = MODELS["endpoints"][shape]
    jsonschema.validate(document, {**schema, "$defs": {**MODELS["$defs"], **schema.get("$defs", {})}})


def png_b64(color=(10, 200, 10)) -> str:
    out = io.BytesIO()
    PILImage.new("RGB", (64, 64), color).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def post(base_url, route, body=None):
    return requests.post(f"{base_url}/{route}", json=body, timeout=120)


@pytest.mark.parametrize("route", LISTINGS)
def test_listings_match_a1111_models(base_url, library, route):
    response = requests.get(f"{base_url}/{route}", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    check(f"GET {route}", response.json())


def test_listings_name_the_library(base_url, library):
    checkpoint = library["checkpoint"]
    models = requests.get(f"{base_url}/sd-models", timeout=10).json()
    tiny = next(model for model in models if model["model_name"] == "tiny")
    assert tiny["title"] == f"tiny.safetensors [{checkpoint.hash[:10]}]" and tiny["sha256"] == checkpoint.hash
    assert tiny["filename"].endswith(".safetensors")
    assert [vae["model_name"] for vae in requests.get(f"{base_url}/sd-vae", timeout=10).json()] == \
        ["tiny-vae.safetensors"]
    embeddings = requests.get(f"{base_url}/embeddings", timeout=10).json()["loaded"]
    assert embeddings["tinyemb"]["vectors"] == 2 and embeddings["tinyemb"]["shape"] > 0
    assert "4x-tiny" in [u["name"] for u in requests.get(f"{base_url}/upscalers", timeout=10).json()]
    assert "Euler a" in [s["name"] for s in requests.get(f"{base_url}/samplers", timeout=10).json()]


@pytest.mark.parametrize("route", ["options", "refresh-checkpoints", "refresh-loras", "refresh-vae", "interrupt",
                                   "skip"])
def test_commands_answer_null(base_url, library, route):
    response = post(base_url, route, {} if route == "options" else None)
    assert response.status_code == 200
    check(f"POST {route}", response.json())


def test_renders_and_png_info_match_a1111_models(base_url, library, render_worker):
    txt = post(base_url, "txt2img", {"prompt": "a boat", **SMALL})
    assert txt.status_code == 200, txt.text
    check("POST txt2img", txt.json())
    info = json.loads(txt.json()["info"])
    jsonschema.validate(info, {**MODELS["$defs"]["render_info"], "$defs": MODELS["$defs"]})
    img = post(base_url, "img2img", {"prompt": "a boat", "init_images": [png_b64()], **SMALL})
    assert img.status_code == 200, img.text
    check("POST img2img", img.json())
    png_info = post(base_url, "png-info", {"image": txt.json()["images"][0]})
    check("POST png-info", png_info.json())
    assert png_info.json()["info"] == info["infotexts"][0]
    plain = post(base_url, "png-info", {"image": png_b64()})  # no parameters chunk: A1111 parses "", its defaults
    assert plain.json()["info"] == "" and plain.json()["parameters"]["Clip skip"] == "1"
    single = post(base_url, "extra-single-image", {"image": png_b64(), "upscaler_1": "4x-tiny"})
    assert single.status_code == 200, single.text
    check("POST extra-single-image", single.json())
    batch = post(base_url, "extra-batch-images", {"imageList": [{"data": png_b64(), "name": "a"}],
                                                  "upscaler_1": "Lanczos"})
    assert batch.status_code == 200, batch.text
    check("POST extra-batch-images", batch.json())


def test_unknown_fields_are_ignored_and_unsupported_ones_listed(base_url, library, render_worker):
    body = {"prompt": "a boat", **SMALL, "no_such_field": 1, "restore_faces": True, "styles": ["cinematic"],
            "subseed_strength": 0.0, "override_settings": {"sd_model_checkpoint": "tiny-2", "eta_noise_seed_delta": 31337},
            "alwayson_scripts": {"Refiner": {"args": [True, "sdxl-refiner", 0.8]}, "seed": {"args": [False]}},
            "scheduler": "No such schedule", "send_images": False}
    response = post(base_url, "txt2img", body)
    assert response.status_code == 200, response.text
    assert response.json()["images"] == []
    info = json.loads(response.json()["info"])
    assert info["ignored"] == ["styles", "restore_faces", "scheduler (No such schedule)",
                               "override_settings.eta_noise_seed_delta", "alwayson_scripts.Refiner"]
    assert info["sd_model_name"] == "tiny-2" and len(info["all_seeds"]) == 1


def test_sampler_and_scheduler_map_to_ours(base_url, library, render_worker):
    response = post(base_url, "txt2img", {"prompt": "a", **SMALL, "sampler_name": "DPM++ 2M", "scheduler": "karras"})
    info = json.loads(response.json()["info"])
    assert info["sampler_name"] == "DPM++ 2M" and info["ignored"] == []
    assert "Sampler: DPM++ 2M, Schedule type: Karras," in info["infotexts"][0]
    task = Task.objects.get(id=info["task_ids"][0])
    assert (task.sampler, task.scheduler) == ("DPM++ 2M", "Karras")


def test_schedulers_and_samplers_lists(base_url):
    schedulers = requests.get(f"{base_url}/schedulers", timeout=10).json()
    assert [s["label"] for s in schedulers] == [
        "Automatic", "Uniform", "Karras", "Exponential", "Polyexponential", "SGM Uniform", "KL Optimal",
        "Align Your Steps", "Simple", "Normal", "DDIM", "Beta"]
    assert schedulers[2] == {"name": "karras", "label": "Karras", "aliases": None, "default_rho": 7.0,
                             "need_inner_model": False}
    assert schedulers[5]["aliases"] == ["SGMUniform"]
    samplers = {s["name"]: s for s in requests.get(f"{base_url}/samplers", timeout=10).json()}
    assert {"LCM", "DPM++ 2M SDE Heun", "Euler"} <= set(samplers) and "DPM++ 2M Karras" not in samplers
    assert samplers["DPM++ 2M"]["options"] == {"scheduler": "karras"}


def test_a_schedule_the_sampler_cannot_take_is_a_422(base_url, library):
    response = post(base_url, "txt2img", {"prompt": "a", **SMALL, "sampler_name": "Euler a", "scheduler": "Karras"})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "scheduler"]
    assert detail["msg"].startswith("sampler Euler a does not support schedule type Karras")


@pytest.mark.parametrize("body, loc", [
    ({"prompt": "a", "steps": 0}, ["body", "steps"]),
    ({"prompt": "a", "steps": "many"}, ["body", "steps"]),
    ({"prompt": "a", "width": 100}, ["body", "width"]),
    ({"prompt": "a", "cfg_scale": 99}, ["body", "cfg_scale"]),
    ({"prompt": "a", "sampler_name": "Nope"}, ["body", "sampler_name"]),
    ({"prompt": "a", "seed": "x"}, ["body", "seed"]),
    ({"prompt": "a", "n_iter": 0}, ["body", "n_iter"]),
    ({"prompt": "a", "override_settings": {"sd_model_checkpoint": "missing"}},
     ["body", "override_settings", "sd_model_checkpoint"]),
    ({"prompt": "a", "override_settings": {"CLIP_stop_at_last_layers": 40}},
     ["body", "override_settings", "CLIP_stop_at_last_layers"]),
    ({"prompt": "a", "enable_hr": True, "hr_scale": 9}, ["body", "hr_scale"]),
    ({"prompt": "a", "enable_hr": True, "hr_upscaler": "Unknown 4x"}, ["body", "hr_upscaler"]),
    ({"prompt": "   "}, ["body", "prompt"]),
    ({"prompt": "a" * 10_001}, ["body", "prompt"]),
    ({"prompt": "a", "styles": "cinematic"}, ["body", "styles"]),
    ({"prompt": "a", "styles": ["cinematic", {"name": "x"}]}, ["body", "styles", 1]),
    ({"prompt": "a", "script_name": 5}, ["body", "script_name"]),
    ({"prompt": "a", "script_args": "x"}, ["body", "script_args"]),
    ({"prompt": "a", "alwayson_scripts": []}, ["body", "alwayson_scripts"]),
    ({"prompt": "a", "alwayson_scripts": {"ControlNet": 5}}, ["body", "alwayson_scripts", "ControlNet"]),
    ({"prompt": "a", "alwayson_scripts": {"Refiner": {"args": "x"}}}, ["body", "alwayson_scripts", "Refiner", "args"]),
])
def test_txt2img_validation_is_a1111_422_and_queues_nothing(base_url, library, body, loc):
    response = post(base_url, "txt2img", body)
    assert response.status_code == 422, response.text
    check("validation error", response.json())
    assert response.json()["detail"][0]["loc"] == loc
    assert not Task.objects.exists()


@pytest.mark.parametrize("body, detail", [
    ({"script_name": "x/y/z plot", "script_args": [1, "2"]}, "Script 'x/y/z plot' not found"),
    ({"script_name": "no such script"}, "Script 'no such script' not found"),
    ({"alwayson_scripts": {"ADetailer": {"args": [True, {"ad_model": "face_yolov8n.pt"}]}}},
     "Script 'ADetailer' not found"),
    ({"alwayson_scripts": {"animatediff": {"args": [False]}}}, "Script 'animatediff' not found"),
])
def test_scripts_we_do_not_have_are_a1111_422(base_url, library, body, detail):
    """A1111 answers 422 for a script it does not have; we answered 200 and rendered without it (#23 item 8).
    GET /scripts lists none, and the always-on scripts we take are ControlNet and A1111's built-in ones."""
    response = post(base_url, "txt2img", {"prompt": "a", **SMALL, **body})
    assert response.status_code == 422, response.text
    check("error", response.json())
    assert response.json()["detail"] == detail
    assert not Task.objects.exists()


@pytest.mark.parametrize("body, loc", [
    ({"prompt": "a"}, ["body", "init_images"]),
    ({"prompt": "a", "init_images": ["not base64 !"]}, ["body", "init_images", 0]),
    ({"prompt": "a", "init_images": [base64.b64encode(b"plain text").decode()]}, ["body", "init_images", 0]),
    ({"prompt": "a", "init_images": [png_b64()], "denoising_strength": 2}, ["body", "denoising_strength"]),
    ({"prompt": "a", "init_images": [png_b64()], "mask": "@@"}, ["body", "mask"]),
])
def test_img2img_validation_stores_nothing(base_url, library, body, loc):
    from images_app.models import Image

    response = post(base_url, "img2img", body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert not Task.objects.exists() and not Image.objects.exists()


def test_malformed_bodies_and_routes(base_url, library):
    broken = requests.post(f"{base_url}/txt2img", data=b"{not json", headers={"Content-Type": "application/json"},
                           timeout=10)
    assert broken.status_code == 422
    check("validation error", broken.json())
    assert post(base_url, "txt2img", ["a list"]).status_code == 422
    missing = requests.get(f"{base_url}/no-such-endpoint", timeout=10)
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    wrong_method = requests.get(f"{base_url}/txt2img", timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json() == {"detail": "Method Not Allowed"}
    unknown_model = post(base_url, "options", {"sd_model_checkpoint": "nope.safetensors [0123456789]"})
    assert unknown_model.status_code == 404
    check("error", unknown_model.json())
    bad_clip = post(base_url, "options", {"CLIP_stop_at_last_layers": 0})
    assert bad_clip.status_code == 422
    check("error", bad_clip.json())


def test_options_persist_in_the_database(base_url, library):
    from system_app.models import SystemFact

    assert post(base_url, "options", {"sd_model_checkpoint": library["other"].hash[:10], "sd_vae": "tiny-vae",
                                      "CLIP_stop_at_last_layers": 3}).status_code == 200
    stored = json.loads(SystemFact.objects.get(key="a1111.options").value)
    assert stored == {"checkpoint": library["other"].hash, "vae": library["vae"].hash, "clip_skip": 3}
    options = requests.get(f"{base_url}/options", timeout=10).json()
    assert options["sd_model_checkpoint"] == f"tiny-2.safetensors [{library['other'].hash[:10]}]"
    assert options["sd_checkpoint_hash"] == library["other"].hash and options["sd_vae"] == "tiny-vae.safetensors"
    post(base_url, "options", {"sd_vae": "Automatic"})
    assert requests.get(f"{base_url}/options", timeout=10).json()["sd_vae"] == "Automatic"


def test_without_a_render_worker_nothing_waits_for_ever(base_url, library):
    from images_app.models import Image

    response = post(base_url, "img2img", {"prompt": "a", "init_images": [png_b64()], **SMALL})
    assert response.status_code == 503
    check("error", response.json())
    assert "No render worker" in response.json()["detail"]
    assert not Task.objects.exists() and not Image.objects.exists()


def test_a_body_over_the_upload_limit_is_413(base_url, library, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(base_url, "img2img", {"prompt": "a", "init_images": [png_b64()], "padding": "x" * 2000})
    assert response.status_code == 413
    check("error", response.json())
