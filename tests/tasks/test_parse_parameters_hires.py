"""POST /api/tasks/parse-parameters maps A1111's hires fix keys onto the task's `hires` object (D35, D37)."""

import pytest

from tests.support.factories import make_model

pytestmark = pytest.mark.django_db

INFOTEXT = ("a lighthouse at dusk\nNegative prompt: lowres\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 5, "
            "Size: 256x256, Denoising strength: 0.55, Hires upscale: 2, Hires steps: 10, Hires upscaler: {upscaler}")


def parse(api, text):
    response = api.post_json("/api/tasks/parse-parameters", {"parameters": text})
    assert response.status_code == 200, response.content
    return response.json()


def test_hires_keys_become_the_hires_object_and_the_body_submits(api):
    parsed = parse(api, INFOTEXT.format(upscaler="Latent (nearest-exact)"))
    assert parsed["task"]["hires"] == {"scale": 2.0, "steps": 10, "denoising_strength": 0.55,
                                       "upscaler": "Latent (nearest-exact)"}
    assert not {"Hires upscale", "Hires steps", "Hires upscaler", "Denoising strength"} & set(parsed["ignored"])
    checkpoint = make_model()
    response = api.post_json("/api/tasks", {**parsed["task"], "checkpoint_hash": checkpoint.hash})
    assert response.status_code == 202, response.content


def test_hires_resize_and_an_upscaler_model_by_name(api):
    upscaler = make_model(name="4x-UltraSharp", model_type="upscaler")
    text = INFOTEXT.replace("Hires upscale: 2", "Hires resize: 512x384").format(upscaler="4x-UltraSharp")
    assert parse(api, text)["task"]["hires"] == {"width": 512, "height": 384, "steps": 10, "denoising_strength": 0.55,
                                                 "upscaler": upscaler.hash}


def test_an_unknown_upscaler_model_is_unresolved(api):
    parsed = parse(api, INFOTEXT.format(upscaler="4x_NMKD-Siax_200k"))
    assert {"kind": "upscaler", "name": "4x_NMKD-Siax_200k", "autov2": None} in parsed["unresolved"]
    assert "upscaler" not in parsed["task"]["hires"]


def test_denoising_strength_without_hires_is_ignored(api):
    parsed = parse(api, "a cat\nSteps: 20, Seed: 1, Size: 512x512, Denoising strength: 0.4")
    assert "hires" not in parsed["task"] and "Denoising strength" in parsed["ignored"]
