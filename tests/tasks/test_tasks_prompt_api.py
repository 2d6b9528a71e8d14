"""clip_skip (D33), LoRAs in the prompt (D34) and parameters in/out (D35) at the API (no rendering)."""

import hashlib
import io
import time

import pytest
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

from engine.a1111.infotext import INFOTEXT_MAX_LENGTH, parse_infotext
from engine.parameters import PROMPT_MAX_LENGTH
from images_app.storage import store_image_bytes
from models_app.models import SDModel
from tasks_app.api.validation import submission_schema
from tasks_app.models import Task
from tests.support.api import assert_error


def png_bytes(parameters=None, color=(40, 80, 120)) -> bytes:
    buffer, info = io.BytesIO(), PngInfo()
    if parameters is not None:
        info.add_text("parameters", parameters)
    PILImage.new("RGB", (8, 8), color).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def make_model(name, model_type="checkpoint", base_model="SD1.5", status="ready", **extra):
    return SDModel.objects.create(
        hash=hashlib.sha256(f"{name}/{model_type}".encode()).hexdigest(), name=name, model_type=model_type,
        base_model=base_model, size=1234, status=status, **extra,
    )


@pytest.fixture
def lib(db):
    class Lib:
        ckpt = make_model("v1-5-pruned-emaonly")
        xl = make_model("juggernaut-xl", base_model="SDXL")
        vae = make_model("vae-ft-mse-840000-ema-pruned", "vae")
        detail = make_model("Add Detail", "lora",
                            metadata={"civitai": {"file_name": "add_detail.safetensors"}})
        style = make_model("Ink Style", "lora")
        twin_a = make_model("twin", "lora")
        twin_b = make_model("Twin", "lora", base_model="SD1.5 ")
        xl_lora = make_model("xl-lines", "lora", base_model="SDXL")
        pending = make_model("later", "lora", status="downloading")
        easyneg = make_model("EasyNegative", "embedding", metadata={"trigger_words": ["easynegative"]})
    return Lib


def submit(api, lib, **fields):
    return api.post_json("/api/tasks", {"checkpoint_hash": lib.ckpt.hash, "prompt": "a misty forest", **fields})


def created(response) -> Task:
    assert response.status_code == 202, response.content
    return Task.objects.get(id=response.json()["task_id"])


# -- clip_skip ---------------------------------------------------------------------------------------------------

def test_clip_skip_defaults_to_one_and_is_stored(api, lib):
    assert created(submit(api, lib)).clip_skip == 1
    task = created(submit(api, lib, clip_skip=2))
    assert task.clip_skip == 2
    document = api.get(f"/api/tasks/{task.id}").json()
    assert document["data"]["attributes"]["clip_skip"] == 2
    listed = api.get("/api/tasks?filter[clip_skip]=2").json()["data"]
    assert [row["id"] for row in listed] == [task.id]
    assert len(api.get("/api/tasks?filter[clip_skip][lt]=2").json()["data"]) == 1


@pytest.mark.parametrize("value", [0, 13, -1, "2", 2.5, True, None])  # 2.0 is 2: test_whole_floats_are_integers
def test_clip_skip_validation(api, lib, value):
    assert_error(submit(api, lib, clip_skip=value), 400, "invalid_request", pointer="/clip_skip")
    assert not Task.objects.exists()


# -- LoRAs in the prompt -----------------------------------------------------------------------------------------

def _extras(task):
    return [(row.model.name, row.weight) for row in task.task_models.order_by("position")]


def test_inline_loras_resolve_by_name_stem_and_autov2(api, lib):
    prompt = f"masterpiece, <lora:ADD DETAIL:0.6>, <lyco:{lib.style.hash[:10]}:1.2>"
    task = created(submit(api, lib, prompt=prompt, additional_models=[{"model_hash": lib.easyneg.hash}]))
    assert _extras(task) == [("EasyNegative", 1.0), ("Add Detail", 0.6), ("Ink Style", 1.2)]
    assert task.prompt == prompt  # the tags stay in the stored prompt (and in the PNG chunk)
    by_stem = created(submit(api, lib, prompt="a <lora:add_detail> b"))
    assert _extras(by_stem) == [("Add Detail", 1.0)]
    document = api.get(f"/api/tasks/{by_stem.id}?include=additional_models").json()
    assert [row["attributes"]["weight"] for row in document["included"]] == [1.0]


@pytest.mark.parametrize("prompt, words", [
    ("a <lora:nowhere:0.5>", ["nowhere", "Unknown"]),
    ("a <lora:later>", ["later", "Unknown"]),           # not ready
    ("a <lora:twin:0.5>", ["twin", "Ambiguous"]),       # two LoRAs named so (any case)
    ("a <lora:Add Detail:2.5>", ["between 0.0 and 2.0"]),
    ("a <lora:Add Detail:-0.5>", ["between 0.0 and 2.0"]),
    ("a <lora:Add Detail:strong>", ["between 0.0 and 2.0"]),
    ("a <lora:Add Detail> <lora:add_detail:0.5>", ["more than once"]),
    ("a <lora:xl-lines>", ["base model"]),
])
def test_inline_lora_errors_point_at_the_prompt(api, lib, prompt, words):
    error = assert_error(submit(api, lib, prompt=prompt), 400, "invalid_request", pointer="/prompt")
    assert all(word in error["detail"] for word in words), error["detail"]
    assert not Task.objects.exists()


def test_inline_lora_also_in_additional_models_is_a_400(api, lib):
    response = submit(api, lib, prompt="a <lora:Ink Style:0.5>", additional_models=[{"model_hash": lib.style.hash}])
    error = assert_error(response, 400, "invalid_request", pointer="/prompt")
    assert "additional_models" in error["detail"]


def test_tags_in_the_negative_prompt_are_text(api, lib):
    task = created(submit(api, lib, negative_prompt="<lora:nowhere:1>"))
    assert _extras(task) == []


# -- parameters in -----------------------------------------------------------------------------------------------

A1111_16 = """masterpiece, best quality, (1girl:1.2), solo, <lora:add_detail:0.6>, looking at viewer, \\(smile\\)
Negative prompt: (worst quality, low quality:1.4), easynegative, text, watermark
Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, Model hash: {ckpt}, \
Model: v1-5-pruned-emaonly, VAE hash: {vae}, VAE: vae-ft-mse-840000-ema-pruned.safetensors, Denoising strength: 0.45, \
Clip skip: 2, Hires upscale: 2, Hires steps: 15, Hires upscaler: R-ESRGAN 4x+ Anime6B, \
Lora hashes: "add_detail: {detail}", TI hashes: "easynegative: {easyneg}", Version: v1.6.0"""

A1111_110 = """cinematic photo of a lighthouse, <lora:Ink Style:0.8>, <lora:pixel-art-xl:1>
BREAK stormy sea, [dusk:night:0.4]
Negative prompt: lowres
Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, Size: 832x1216, \
Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Clip skip: 2, \
Lora hashes: "Ink Style: {style}, pixel-art-xl: 7b9e7b4d2f1c", Emphasis: No norm, \
ADetailer prompt: "face, detailed eyes", Version: v1.10.1"""

FORGE = """a cozy cabin in the woods, snow
Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 42, Size: 1024x1024, \
Model hash: {xl}, Model: sd_xl_base_1.0, Lora hashes: "{detail_name}: {detail}", \
Version: f2.0.1v1.10.1-previous-313-g8a042934, Module 1: sdxl_vae, Distilled CFG Scale: 3.5"""


def parse(api, text):
    response = api.post_json("/api/tasks/parse-parameters", {"parameters": text})
    assert response.status_code == 200, response.content
    return response.json()


def test_a1111_16_infotext(api, lib):
    text = A1111_16.format(ckpt=lib.ckpt.hash[:10], vae=lib.vae.hash[:10], detail=lib.detail.hash[:12],
                           easyneg=lib.easyneg.hash[:12])
    answer = parse(api, text)
    assert answer["task"] == {
        "prompt": "masterpiece, best quality, (1girl:1.2), solo, <lora:add_detail:0.6>, looking at viewer, "
                  "\\(smile\\)",
        "negative_prompt": "(worst quality, low quality:1.4), easynegative, text, watermark",
        "steps": 25, "sampler": "DPM++ 2M", "scheduler": "Karras", "cfg_scale": 7, "seed": 1234567890, "width": 512,
        "height": 768, "clip_skip": 2, "checkpoint_hash": lib.ckpt.hash, "vae_hash": lib.vae.hash,
        "additional_models": [{"model_hash": lib.easyneg.hash}],
        "hires": {"scale": 2.0, "steps": 15, "denoising_strength": 0.45},  # the upscaler model is not in the library
    }
    assert answer["unresolved"] == [{"kind": "upscaler", "name": "R-ESRGAN 4x+ Anime6B", "autov2": None}]
    assert answer["ignored"] == ["Version"]
    # the body is a valid submission as it stands
    assert created(api.post_json("/api/tasks", answer["task"])).clip_skip == 2


def test_a1111_110_infotext_with_schedule_type_and_unresolved_models(api, lib):
    answer = parse(api, A1111_110.format(style=lib.style.hash[:12]))
    task = answer["task"]
    assert task["prompt"].endswith("<lora:pixel-art-xl:1>\nBREAK stormy sea, [dusk:night:0.4]")
    assert (task["sampler"], task["scheduler"], task["cfg_scale"], task["seed"], task["clip_skip"]) == (
        "DPM++ 2M", "Karras", 6.5, 3141592653, 2)
    assert "checkpoint_hash" not in task and "additional_models" not in task
    assert answer["unresolved"] == [
        {"kind": "checkpoint", "name": "sd_xl_base_1.0", "autov2": "31e35c80fc"},
        {"kind": "lora", "name": "pixel-art-xl", "autov2": "7b9e7b4d2f"},
    ]
    assert answer["ignored"] == ["Emphasis", "ADetailer prompt", "Version"]


def test_forge_infotext_and_lora_hashes_without_a_tag(api, lib):
    answer = parse(api, FORGE.format(xl=lib.xl.hash[:10], detail_name="add_detail", detail=lib.detail.hash[:10]))
    task = answer["task"]
    assert (task["checkpoint_hash"], task["sampler"], task["width"]) == (lib.xl.hash, "Euler a", 1024)
    assert task["additional_models"] == [{"model_hash": lib.detail.hash, "weight": 1.0}]
    assert answer["ignored"] == ["Version", "Module 1", "Distilled CFG Scale"]


def test_an_old_8_digit_model_hash_is_no_autov2(api, lib):
    answer = parse(api, "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, "
                        "Model hash: 45dee52b, Model: v1-5-pruned-emaonly")
    assert answer["task"]["checkpoint_hash"] == lib.ckpt.hash  # found by name
    answer = parse(api, "a cat\nSteps: 20, Seed: 1, Model hash: 45dee52b, Model: somewhere-else")
    assert answer["unresolved"] == [{"kind": "checkpoint", "name": "somewhere-else", "autov2": None}]


def test_a_tag_whose_name_is_unknown_is_renamed_to_its_autov2(api, lib):
    text = ("a <lora:old-name:0.7>\nSteps: 20, Sampler: Euler, Seed: 5, "
            f'Lora hashes: "old-name: {lib.style.hash[:12]}"')
    task = parse(api, text)["task"]
    assert task["prompt"] == f"a <lora:{lib.style.hash[:10]}:0.7>"
    assert "additional_models" not in task


@pytest.mark.parametrize("sampler, schedule, expected", [
    ("DPM++ 2M", "Automatic", ("DPM++ 2M", "Automatic")), ("DPM++ SDE", "Karras", ("DPM++ SDE", "Karras")),
    ("Euler", "Automatic", ("Euler", "Automatic")), ("Euler", None, ("Euler", "Automatic")),
    ("DPM++ 2M SDE", "Exponential", ("DPM++ 2M SDE", "Exponential")), ("DPM++ 2M Karras", None, ("DPM++ 2M", "Karras")),
    ("Euler", "SGM Uniform", ("Euler", "SGM Uniform")), ("Euler", "KL Optimal", ("Euler", "KL Optimal")),
    ("LCM", "Automatic", ("LCM", "Automatic")),
    ("Restart", None, None), ("UniPC", "SGM Uniform", None), ("Euler a", "Karras", None), ("Euler", "Turbo", None),
])
def test_sampler_and_schedule_type(api, lib, sampler, schedule, expected):
    line = f"Steps: 20, Sampler: {sampler}, " + (f"Schedule type: {schedule}, " if schedule else "") + "Seed: 1"
    answer = parse(api, "a cat\n" + line)
    task = answer["task"]
    assert ((task["sampler"], task["scheduler"]) if "sampler" in task else None) == expected
    assert ("Sampler" in answer["ignored"]) == (expected is None)


def test_odd_infotexts_never_fail(api, lib):
    assert parse(api, "") == {"task": {"prompt": ""}, "unresolved": [], "ignored": []}
    only_prompt = parse(api, "just a prompt, with: a colon")
    assert only_prompt["task"] == {"prompt": "just a prompt, with: a colon"}
    weird = parse(api, "p\nSteps: many, Size: huge, CFG scale: x, Seed: 1.5, Foo: \"unterminated, Bar: 1")
    assert weird["task"] == {"prompt": "p"}
    assert set(weird["ignored"]) >= {"Steps", "Size", "CFG scale", "Seed"}


@pytest.mark.parametrize("body, pointer", [
    ({}, "/parameters"), ({"parameters": 5}, "/parameters"), ({"parameters": "x", "other": 1}, "/other"),
])
def test_parse_parameters_body_errors(api, body, pointer):
    assert_error(api.post_json("/api/tasks/parse-parameters", body), 400, "invalid_request", pointer=pointer)


# -- parameters out ----------------------------------------------------------------------------------------------

def test_image_parameters(api, lib):
    text = ("a red barn\nSteps: 12, Sampler: Euler a, CFG scale: 5, Seed: 9, Size: 64x64, "
            f"Model hash: {lib.ckpt.hash[:10]}")
    image, _ = store_image_bytes(png_bytes(parameters=text))
    answer = api.get(f"/api/images/{image.hash}/parameters").json()
    assert answer["task"] == {"prompt": "a red barn", "steps": 12, "sampler": "Euler a", "scheduler": "Automatic",
                              "cfg_scale": 5, "seed": 9, "width": 64, "height": 64, "checkpoint_hash": lib.ckpt.hash}
    plain, _ = store_image_bytes(png_bytes(color=(1, 2, 3)))
    assert_error(api.get(f"/api/images/{plain.hash}/parameters"), 404, "no_parameters")
    assert_error(api.get(f"/api/images/{'0' * 64}/parameters"), 404, "not_found")


# -- the prompt length limit (#23 item 4) ------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_a_prompt_over_the_length_limit_is_a_400(api, lib, field):
    assert created(submit(api, lib, **{field: "a" * PROMPT_MAX_LENGTH}))
    error = assert_error(submit(api, lib, **{field: "(a" + " " * PROMPT_MAX_LENGTH}), 400, "invalid_request",
                         pointer=f"/{field}")
    assert f"{PROMPT_MAX_LENGTH:,}" in error["detail"]
    assert Task.objects.count() == 1
    assert submission_schema()["properties"][field]["maxLength"] == PROMPT_MAX_LENGTH


# -- the infotext length limit (#23 item 8) ------------------------------------------------------------------------

def test_a_parameters_chunk_over_the_limit_is_not_stored(api, lib):
    """A 20 MiB `parameters` chunk was stored whole in the metadata and returned by every list read."""
    fitting = "a misty forest\nSteps: 20, Sampler: Euler, Seed: 1, Size: 64x64" + " " * 1000
    for text, kept in ((fitting, True), ("p\nSteps: 20, " + "x" * INFOTEXT_MAX_LENGTH, False)):
        response = api.post("/api/images/upload", png_bytes(text, color=(1, 2, 3) if kept else (4, 5, 6)),
                            content_type="image/png")
        assert response.status_code == 201, response.content
        image_id = response.json()["data"]["id"]
        metadata = api.get(f"/api/images/{image_id}").json()["data"]["attributes"]["metadata"]
        assert metadata == ({"parameters": fitting} if kept else {})
        if not kept:
            assert_error(api.get(f"/api/images/{image_id}/parameters"), 404, "no_parameters")


def test_parse_parameters_refuses_an_infotext_over_the_limit(api):
    assert_error(api.post_json("/api/tasks/parse-parameters", {"parameters": "p\n" + "a" * INFOTEXT_MAX_LENGTH}),
                 400, "invalid_request", pointer="/parameters")


def test_parsing_a_long_infotext_line_is_linear():
    """A line of words without ':' made A1111's `Key: value` pattern try every position up to its end (8 s for
    32 KB)."""
    for line in ("a b " * 250_000, "-a" * 500_000, "x\ty" * 300_000):
        started = time.process_time()
        assert parse_infotext("p\n" + line).params == {}
        assert time.process_time() - started < 2
