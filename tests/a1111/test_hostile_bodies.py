"""Odd values in every mapped field, odd scripts, options, png-info and extras bodies: a JSON answer in A1111's shapes
with a 4xx status (or the 503 of no render worker, interrogate's 501), never a 500 (D39, house rule)."""

import base64
import io
import itertools
import json

import pytest
from django.test import Client
from PIL import Image as PILImage

from tests.support.factories import make_model

ODD = [None, True, -1, 0, 1.5, 1e308, "x", "", [], {}, [1], {"a": 1}, "data:,", 2**70]
FIELDS = ["prompt", "negative_prompt", "steps", "cfg_scale", "width", "height", "seed", "batch_size", "n_iter",
          "sampler_name", "scheduler", "enable_hr", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x",
          "hr_resize_y", "denoising_strength", "override_settings", "alwayson_scripts", "init_images", "mask",
          "mask_blur", "inpainting_mask_invert", "send_images", "styles", "sampler_index"]
EXTRAS_FIELDS = ["image", "resize_mode", "upscaling_resize", "upscaling_resize_w", "upscaling_resize_h", "upscaling_crop",
                 "upscaler_1", "gfpgan_visibility", "imageList"]
SCRIPTS = [{"ControlNet": {"args": [{"model": "x"}]}}, {"ControlNet": {"args": [{"model": 5, "image": 3}]}},
           {"ControlNet": {"args": "x"}}, {"x": 5}, {"x": {"args": 5}}, {"ControlNet": {"args": [None, 1]}},
           {"ControlNet": {"args": [{"model": "tiny-cn", "image": "@@", "weight": "heavy"}]}}]


def make_png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (16, 16)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db
def test_hostile_bodies_are_never_a_500():
    make_model("tiny", model_type="checkpoint")
    make_model("tiny-cn", model_type="controlnet")
    client = Client(HTTP_HOST="localhost")
    requests = [(route, {"prompt": "p", "steps": 2, "width": 64, "height": 64, field: value})
                for route, field, value in itertools.product(("txt2img", "img2img"), FIELDS, ODD)]
    requests += [("txt2img", {"prompt": "p", "alwayson_scripts": scripts}) for scripts in SCRIPTS]
    requests += [("options", body) for body in ({"sd_model_checkpoint": 5}, {"sd_vae": []},
                                                {"CLIP_stop_at_last_layers": "2"}, {"sd_model_checkpoint": None})]
    requests += [("png-info", body) for body in ({"image": 5}, {"image": "abc"}, {}, {"image": ["x"]})]
    png = base64.b64encode(make_png()).decode()
    for route, upscaler, field, value in itertools.product(("extra-single-image", "extra-batch-images"),
                                                           ("None", "Lanczos"), EXTRAS_FIELDS, ODD):
        requests.append((route, {"image": png, "imageList": [{"data": png, "name": "a"}], "upscaler_1": upscaler,
                                 "resize_mode": 1 if "_w" in field or "_h" in field else 0, field: value}))
    requests += [("extra-batch-images", {"imageList": [value]}) for value in ODD]
    requests += [(route, value) for route in ("extra-single-image", "extra-batch-images", "interrogate")
                 for value in ODD]
    failures = []
    for route, body in requests:
        response = client.post(f"/sdapi/v1/{route}", json.dumps(body), content_type="application/json")
        if response.status_code >= 500 and response.status_code not in (501, 503) or response["Content-Type"] != \
                "application/json":
            failures.append((route, body, response.status_code, response.content[:200]))
    assert not failures, "\n".join(map(str, failures))
