"""POST /sdapi/v1/png-info's `parameters`: what A1111 1.10's parse_generation_parameters returns for the same text
(modules/infotext_utils.py, with its default options), and the fused sampler names split (#22 item 5)."""

import base64
import io

import pytest
from django.test import Client
from PIL import Image as PILImage
from PIL import PngImagePlugin

from engine.a1111.infotext import generation_parameters

# What A1111 fills in for every key the text leaves out, in its order
DEFAULTS = {
    "Clip skip": "1", "Hires resize-1": 0, "Hires resize-2": 0, "Hires sampler": "Use same sampler",
    "Hires checkpoint": "Use same checkpoint", "Hires prompt": "", "Hires negative prompt": "",
    "Mask mode": "Inpaint masked", "Masked content": "original", "Inpaint area": "Whole picture",
    "Masked area padding": 32, "RNG": "GPU", "Schedule type": "Automatic", "Schedule max sigma": 0,
    "Schedule min sigma": 0, "Schedule rho": 0, "VAE Encoder": "Full", "VAE Decoder": "Full", "FP8 weight": "Disable",
}


def test_a_plain_infotext_gets_a1111s_defaults_and_no_raw_size():
    text = ("a red fox\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, "
            "Size: 512x768, Model hash: 45dee52b, Model: tiny")
    assert generation_parameters(text) == {
        "Prompt": "a red fox", "Negative prompt": "blurry", "Steps": "20", "Sampler": "Euler a", "CFG scale": "7",
        "Seed": "42", "Size-1": "512", "Size-2": "768", "Model hash": "45dee52b", "Model": "tiny", **DEFAULTS,
    }
    assert list(generation_parameters(text))[:10] == ["Prompt", "Negative prompt", "Steps", "Sampler", "CFG scale",
                                                      "Seed", "Size-1", "Size-2", "Model hash", "Model"]


def test_written_values_win_over_defaults_and_hires_sizes_split():
    text = ("p\nSteps: 4, Sampler: Euler, Clip skip: 2, Hires resize: 1024x1536, Hires upscaler: Latent, "
            "Schedule type: Uniform, RNG: CPU, FP8 weight: Enable")
    parsed = generation_parameters(text)
    assert parsed["Clip skip"] == "2" and parsed["RNG"] == "CPU" and parsed["Schedule type"] == "Uniform"
    assert (parsed["Hires resize-1"], parsed["Hires resize-2"]) == ("1024", "1536") and "Hires resize" not in parsed
    assert parsed["Cache FP16 weight for LoRA"] is False  # only when FP8 weight is not Disable, as A1111
    assert "Cache FP16 weight for LoRA" not in generation_parameters("p\nSteps: 4, Sampler: Euler, Seed: 1")


@pytest.mark.parametrize("sampler, expected", [
    ("DPM++ 2M Karras", ("DPM++ 2M", "Karras")), ("DPM++ SDE Karras", ("DPM++ SDE", "Karras")),
    ("DPM++ 2M SDE Exponential", ("DPM++ 2M SDE", "Exponential")), ("Euler a", ("Euler a", "Automatic")),
    ("DPM++ 2M", ("DPM++ 2M", "Automatic")), ("Karras", ("Karras", "Automatic")),
])
def test_fused_sampler_names_are_split_into_sampler_and_schedule_type(sampler, expected):
    parsed = generation_parameters(f"p\nSteps: 4, Sampler: {sampler}, Seed: 1")
    assert (parsed["Sampler"], parsed["Schedule type"]) == expected


def test_old_hires_fix_first_pass_size_and_hypernet():
    parsed = generation_parameters("p\nSteps: 4, Sampler: Euler, Size: 1024x1024, First pass size: 0x0, "
                                   "Hypernet: anime, Hypernet strength: 0.5")
    # the old hires fix: Size was the final size, 0x0 meant "about 512x512 pixels"
    assert (parsed["Size-1"], parsed["Size-2"], parsed["Hires resize-1"], parsed["Hires resize-2"]) == \
        (512, 512, 1024, 1024)
    assert parsed["Prompt"] == "p<hypernet:anime:0.5>"
    given = generation_parameters("p\nSteps: 4, Size: 768x512, First pass size: 384x256")
    assert (given["Size-1"], given["Size-2"], given["Hires resize-1"], given["Hires resize-2"]) == (384, 256, 768, 512)


def test_version_back_compatibility_flags():
    old = generation_parameters("a [cat:dog:5]\nSteps: 4, Sampler: DDIM, Seed: 1, Version: v1.5.1")
    assert old["Old prompt editing timelines"] is True and old["Pad conds v0"] is True
    assert old["Downcast alphas_cumprod"] is True
    mid = generation_parameters("p\nSteps: 4, Sampler: Euler, Seed: 1, Version: v1.7.0-133-gde03882d")
    assert mid["Downcast alphas_cumprod"] is True and "Pad conds v0" not in mid
    new = generation_parameters("p\nSteps: 4, Sampler: Euler, Seed: 1, Version: v1.10.1")
    assert not {"Old prompt editing timelines", "Pad conds v0", "Downcast alphas_cumprod"} & set(new)
    assert "Downcast alphas_cumprod" not in generation_parameters("p\nSteps: 4, Seed: 1, Version: f2.0.1v1.10.1-x-1")


def png_b64(text=None) -> str:
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text("parameters", text)
    out = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(out, format="PNG", pnginfo=info)
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.django_db
def test_png_info_answers_the_parsed_dict():
    client = Client(HTTP_HOST="localhost")
    text = "a boat\nSteps: 2, Sampler: DPM++ 2M Karras, Size: 64x64, Seed: 3"
    body = client.post("/sdapi/v1/png-info", {"image": png_b64(text)}, content_type="application/json").json()
    assert body["info"] == text and body["parameters"] == generation_parameters(text)
    assert body["parameters"]["Sampler"] == "DPM++ 2M" and body["parameters"]["Schedule type"] == "Karras"
    assert "Size" not in body["parameters"]
    plain = client.post("/sdapi/v1/png-info", {"image": png_b64()}, content_type="application/json").json()
    assert plain == {"info": "", "items": {}, "parameters": {"Prompt": "", "Negative prompt": "", **DEFAULTS}}
