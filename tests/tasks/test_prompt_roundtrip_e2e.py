"""Prompt fidelity end to end: HTTP API → queue → real worker → stored PNGs (tiny SD1.5 models on CPU).

An inline `<lora:…>` renders like the same LoRA in additional_models (D34), and an image's own parameters,
parsed and submitted again, render the very same PNG (D35).
"""

import io

import pytest
from PIL import Image as PILImage

from engine.tiny_models import write_model_file
from images_app.storage import image_file_path
from models_app.services import import_model_file
from tests.support.api import assert_error
from tests.support.worker import render_task


@pytest.fixture
def library(transactional_db, tmp_path):
    """A tiny SD1.5 checkpoint and LoRA, imported from real files."""
    return {kind: import_model_file(write_model_file(tmp_path / f"{kind}.safetensors", kind=kind, seed=seed),
                                    name=f"tiny-{kind}")[0]
            for kind, seed in (("checkpoint", 0), ("lora", 1))}







def render(api, library, **fields):
    body = {"checkpoint_hash": library["checkpoint"].hash, "prompt": "a tiny valley", "width": 64, "height": 64,
            "steps": 2, "sampler": "Euler", "seed": 42, **fields}
    return render_task(api, body)


def _pixels(image) -> bytes:
    with PILImage.open(io.BytesIO(image_file_path(image).read_bytes())) as png:
        return png.tobytes()


def _infotext(image) -> str:
    with PILImage.open(io.BytesIO(image_file_path(image).read_bytes())) as png:
        return png.text["parameters"]


def test_inline_lora_renders_like_the_listed_lora(api, library, render_worker):
    lora = library["lora"]
    _, [listed] = render(api, library, additional_models=[{"model_hash": lora.hash, "weight": 0.7}])
    inline_task, [inline] = render(api, library, prompt="a tiny valley <lora:TINY-LORA:0.7>")
    assert [(row.model_id, row.weight) for row in inline_task.task_models.all()] == [(lora.hash, 0.7)]
    assert _pixels(inline) == _pixels(listed)
    _, [plain] = render(api, library)
    assert _pixels(plain) != _pixels(listed)
    response = api.post_json("/api/tasks", {"checkpoint_hash": library["checkpoint"].hash,
                                            "prompt": "a tiny valley <lora:no-such-lora:0.7>"})
    assert "no-such-lora" in assert_error(response, 400, "invalid_request", pointer="/prompt")["detail"]


@pytest.mark.parametrize("schedule, pasted", [
    # a fused name is written as A1111 1.9+ writes it (Sampler: DPM++ 2M, Schedule type: Karras) and read back so
    ({"sampler": "DPM++ 2M Karras"}, {"sampler": "DPM++ 2M", "scheduler": "Karras"}),
    ({"sampler": "Euler", "scheduler": "KL Optimal"}, {"sampler": "Euler", "scheduler": "KL Optimal"}),
])
def test_parameters_round_trip_renders_the_same_png(api, library, render_worker, schedule, pasted):
    fields = {"prompt": "(masterpiece:1.2), a tiny valley, <lora:tiny-lora:0.7> BREAK [misty:clear:0.5] \\(river\\)",
              "negative_prompt": "[blurry], lowres", "clip_skip": 2, **schedule, "seed": 7,
              "steps": 3, "cfg_scale": 6.5}
    _, [first] = render(api, library, **fields)
    answer = api.get(f"/api/images/{first.hash}/parameters").json()
    assert answer["unresolved"] == [] and answer["ignored"] == []
    body = answer["task"]
    assert body == {"prompt": fields["prompt"], "negative_prompt": fields["negative_prompt"], "steps": 3,
                    **pasted, "cfg_scale": 6.5, "seed": 7, "width": 64, "height": 64,
                    "checkpoint_hash": library["checkpoint"].hash, "clip_skip": 2}
    assert f"Sampler: {pasted['sampler']}, Schedule type: {pasted['scheduler']}," in _infotext(first)
    first_bytes, first_pixels = image_file_path(first).read_bytes(), _pixels(first)
    assert api.delete(f"/api/images/{first.hash}").status_code == 200  # else D4 keeps the first task's row

    _, [again] = render_task(api, body)
    assert _pixels(again) == first_pixels
    assert image_file_path(again).read_bytes() == first_bytes
