"""Several requests rendered as one pipeline call (RenderEngine.render_batch): each request's images equal its
solo render within float tolerance, with its own PNG chunk, progress and cancel. Tiny real models on the CPU."""

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from engine import HiresSpec, LoraSpec, RenderCancelled, RenderEngine, RenderRequest
from engine.engine import batch_key
from engine.tiny_models import write_model_file
from tests.support.engine import model_file

# per-channel difference allowed between a batched and a solo render (8-bit): batched matrix products round
# differently; in practice 0 or 1
TOLERANCE = 3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch-models")
    out = {}
    for key, kind, arch, seed in (("sd15", "checkpoint", "sd15", 0), ("sdxl", "checkpoint", "sdxl", 6),
                                  ("lora", "lora", "sd15", 2)):
        out[key] = model_file(write_model_file(folder / f"{key}.safetensors", kind=kind, arch=arch, seed=seed),
                              kind, f"tiny-{key}")
    init = folder / "init.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(init)
    out["init"] = str(init)
    return out


@pytest.fixture(scope="module")
def engine():
    return RenderEngine(device="cpu")


def members(base: RenderRequest) -> list[RenderRequest]:
    """Requests that differ in everything a batch lets differ: prompts (one with prompt editing, one over 75
    tokens), negative prompts, seeds, CFG and image count."""
    rows = [("a cat", "", 11, 7.0, 1), ("a dog on a hill", "blurry", 22, 3.5, 2),
            ("[a red:a blue:2] house", "ugly", 33, 9.0, 1), ("a cat", "", 44, 7.0, 1),
            ("word " * 90, "", 55, 6.0, 1)]
    return [dataclasses.replace(base, prompt=p, negative_prompt=n, seed=s, cfg_scale=c, batch_size=b)
            for p, n, s, c, b in rows]


def pixels(rendered) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(rendered.png)).convert("RGB")).astype(int)


def assert_like_solo(engine, requests, results):
    for request, images in zip(requests, results):
        solo = engine.render(request)
        assert [image.seed for image in images] == [image.seed for image in solo]
        for batched, alone in zip(images, solo):
            assert batched.parameters == alone.parameters  # the PNG chunk reproduces it alone
            assert np.abs(pixels(batched) - pixels(alone)).max() <= TOLERANCE


@pytest.mark.parametrize("arch,sampler", [("sd15", "Euler a"), ("sd15", "DPM++ 2M Karras"), ("sd15", "DPM++ SDE"),
                                          ("sdxl", "Euler a")])
def test_each_request_gets_its_solo_images(engine, models, arch, sampler):
    base = RenderRequest(checkpoint=models[arch], prompt="", width=64, height=64, steps=4, sampler=sampler)
    requests = members(base)
    results = engine.render_batch(requests)
    assert [len(images) for images in results] == [1, 2, 1, 1, 1]
    assert_like_solo(engine, requests, results)


def test_image_to_image_hires_and_lora_batches(engine, models):
    base = RenderRequest(checkpoint=models["sd15"], prompt="", width=64, height=64, steps=3, sampler="Euler",
                         loras=(LoraSpec(models["lora"], 0.8),))
    for shared in ({"init_image_path": models["init"], "denoising_strength": 0.6},
                   {"hires": HiresSpec(width=96, height=96, steps=2, denoising_strength=0.5)},
                   {"hires": HiresSpec(width=96, height=96, upscaler="Lanczos", denoising_strength=0.5)}):
        # the long prompt renders in its own call: the second pass gets its rows of the first pass's output
        requests = [members(dataclasses.replace(base, **shared))[i] for i in (0, 1, 4)]
        assert_like_solo(engine, requests, engine.render_batch(requests))


def test_progress_reaches_every_member_and_a_cancel_drops_only_its_images(engine, models):
    base = RenderRequest(checkpoint=models["sd15"], prompt="", width=64, height=64, steps=4, sampler="Euler")
    requests = members(base)[:3]
    calls = [[], [], []]
    progress = [lambda d, t, i=i: calls[i].append((d, t)) for i in range(3)]
    cancel = [lambda: False, lambda: len(calls[1]) >= 2, lambda: False]
    results = engine.render_batch(requests, progress, cancel)
    assert results[1] is None
    assert calls[0] == calls[2] == [(step, 4) for step in range(1, 5)]
    assert calls[1] == [(1, 4), (2, 4)]  # nothing after its cancel
    assert_like_solo(engine, [requests[0], requests[2]], [results[0], results[2]])
    with pytest.raises(RenderCancelled):
        engine.render_batch(requests, None, [lambda: True] * 3)


def test_only_compatible_requests_batch(engine, models):
    base = RenderRequest(checkpoint=models["sd15"], prompt="a", width=64, height=64, steps=2)
    assert batch_key(base) == batch_key(dataclasses.replace(base, prompt="b", negative_prompt="c", seed=9,
                                                            cfg_scale=4.0, batch_size=3))
    for change in ({"steps": 3}, {"width": 72}, {"sampler": "Euler"}, {"clip_skip": 2}, {"cfg_scale": 1.0},
                   {"loras": (LoraSpec(models["lora"], 0.5),)}, {"checkpoint": models["sdxl"]}):
        other = dataclasses.replace(base, **change)
        assert batch_key(other) != batch_key(base)
        with pytest.raises(ValueError, match="share everything"):
            engine.render_batch([base, other])


def test_default_merge_limit_on_the_cpu_is_fixed(engine):
    from engine.engine import CPU_MERGED_BATCH

    assert engine.default_merged_batch() == CPU_MERGED_BATCH == 4
