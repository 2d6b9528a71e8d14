"""Image to image, inpainting and hires fix in the engine (D36, D37): tiny real models, real renders on the CPU."""

import dataclasses
import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from engine import (
    ControlNetSpec,
    EmbeddingSpec,
    HiresSpec,
    LoraSpec,
    RenderCancelled,
    RenderEngine,
    RenderRequest,
    loader,
)
from engine.tiny_models import write_model_file
from tests.support.engine import model_file as _model_file


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("img2img-models")
    files = {
        "checkpoint": ("checkpoint", "sd15", 0), "lora": ("lora", "sd15", 2), "vae": ("vae", "sd15", 3),
        "embedding": ("embedding", "sd15", 4), "controlnet": ("controlnet", "sd15", 5),
        "sdxl": ("checkpoint", "sdxl", 6), "upscaler": ("upscaler", "sd15", 7),
    }
    out = {key: _model_file(write_model_file(folder / f"{key}.safetensors", kind=kind, arch=arch, seed=seed),
                            kind, f"tiny-{key}")
           for key, (kind, arch, seed) in files.items()}
    gradient = np.zeros((96, 128, 3), dtype=np.uint8)  # 128x96: fitted to 64x64 by scale + centre crop
    gradient[..., 0] = np.linspace(0, 255, 128)[None, :]
    gradient[..., 1] = np.linspace(255, 0, 96)[:, None]
    gradient[..., 2] = 90
    out["init"] = folder / "init.png"
    Image.fromarray(gradient).save(out["init"])
    out["other_init"] = folder / "other.png"
    Image.new("RGB", (64, 64), (20, 200, 120)).save(out["other_init"])
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (32, 0, 64, 64))  # right half white: repaint it
    out["mask"] = folder / "mask.png"
    mask.save(out["mask"])
    out["big_mask"] = folder / "big-mask.png"  # another size, same layout: fitted like the init image
    mask.resize((256, 256), Image.Resampling.NEAREST).convert("RGB").save(out["big_mask"])
    out["control"] = folder / "control.png"
    Image.new("RGB", (64, 64), (255, 255, 255)).save(out["control"])
    return out


@pytest.fixture(scope="module")
def engine():
    return RenderEngine(device="cpu", cache_size=2)


@pytest.fixture(scope="module")
def base(models):
    return RenderRequest(checkpoint=models["checkpoint"], prompt="a photo of a cat", width=64, height=64, steps=6,
                         cfg_scale=7.0, sampler="Euler", seed=77)


def img2img(base, models, **changes):
    return dataclasses.replace(base, init_image_path=str(models["init"]), **changes)


def render(engine, request, **kwargs):
    calls = []
    images = engine.render(request, on_progress=lambda done, total: calls.append((done, total)), **kwargs)
    return [_pixels(image.png) for image in images], calls, images


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def fitted_init(models) -> np.ndarray:
    """The init image as the engine sees it: 128x96 centre-cropped to 96x96, scaled to 64x64."""
    with Image.open(models["init"]) as image:
        fitted = image.convert("RGB").crop((16, 0, 112, 96)).resize((64, 64), Image.Resampling.LANCZOS)
    return np.asarray(fitted).astype(np.int16)


def test_strength_zero_returns_the_vae_round_trip_and_runs_no_step(engine, base, models):
    [image], calls, [rendered] = render(engine, img2img(base, models, denoising_strength=0.0))
    assert calls == []
    assert rendered.parameters.endswith(", Denoising strength: 0")

    # The same round trip computed here with diffusers' VAE straight from the checkpoint file
    vae = loader.load_checkpoint(models["checkpoint"].path, torch.float32).pipe.vae
    pixels = torch.from_numpy(fitted_init(models).astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    with torch.no_grad():
        decoded = vae.decode(vae.encode(pixels).latent_dist.mean).sample[0]
    expected = ((decoded.permute(1, 2, 0) / 2 + 0.5).clamp(0, 1) * 255).round().numpy().astype(np.int16)
    assert np.abs(image - expected).max() <= 2


def test_strength_one_ignores_the_init_image(engine, base, models):
    text_to_image, text_calls, _ = render(engine, base)
    [image], calls, _ = render(engine, img2img(base, models, denoising_strength=1.0))
    [other], _, _ = render(engine, dataclasses.replace(base, init_image_path=str(models["other_init"]),
                                                       denoising_strength=1.0))
    assert len(calls) == base.steps == len(text_calls)
    assert np.array_equal(image, text_to_image[0]) and np.array_equal(image, other)


@pytest.mark.parametrize("steps,strength", [(6, 0.5), (5, 0.5), (10, 0.3), (7, 0.75)])
def test_denoising_runs_ceil_of_steps_times_strength(engine, base, models, steps, strength):
    [image], calls, _ = render(engine, img2img(base, models, steps=steps, denoising_strength=strength))
    expected = math.ceil(round(steps * strength, 6))
    assert calls == [(i, expected) for i in range(1, expected + 1)]
    # the init image changes the result (random-weight models show no likeness, only the dependence)
    [other], _, _ = render(engine, dataclasses.replace(base, init_image_path=str(models["other_init"]), steps=steps,
                                                       denoising_strength=strength))
    assert np.abs(image - other).mean() > 0.1


@pytest.mark.parametrize("mask_key", ["mask", "big_mask"])
def test_inpainting_keeps_black_and_repaints_white(engine, base, models, mask_key):
    request = img2img(base, models, mask_path=str(models[mask_key]), mask_blur=2, denoising_strength=0.9)
    [image], calls, [rendered] = render(engine, request)
    init = fitted_init(models)
    # black half, away from the blurred edge: unchanged; white half: repainted
    assert np.abs(image[:, :26] - init[:, :26]).max() <= 1
    assert np.abs(image[:, 38:] - init[:, 38:]).mean() > 20
    assert len(calls) == math.ceil(6 * 0.9)
    assert "Denoising strength: 0.9, Mask blur: 2" in rendered.parameters


def test_views_share_the_loaded_weights(engine, base, models):
    """img2img and inpainting pipelines are views on the checkpoint's modules: no second copy of any weight."""
    render(engine, base)
    loaded = engine._checkpoint(base.checkpoint)
    loads = engine.stats()["disk_loads"]

    def storages(pipe):
        return {p.untyped_storage().data_ptr() for name in ("unet", "vae", "text_encoder")
                for p in getattr(pipe, name).parameters()}

    base_storages = storages(loaded.pipe)
    for mode in ("img2img", "inpaint"):
        view = engine._pipeline_for(base, loaded, mode)
        assert type(view).__name__ == {"img2img": "StableDiffusionImg2ImgPipeline",
                                       "inpaint": "StableDiffusionInpaintPipeline"}[mode]
        assert view.unet is loaded.pipe.unet and storages(view) == base_storages
    render(engine, img2img(base, models, denoising_strength=0.5))
    render(engine, img2img(base, models, mask_path=str(models["mask"])))
    assert engine.stats()["disk_loads"] == loads  # no model was loaded again


def test_img2img_with_lora_vae_embedding_and_controlnet(engine, base, models):
    request = img2img(base, models, denoising_strength=0.6)
    [plain], _, _ = render(engine, request)
    variants = {
        "lora": dataclasses.replace(request, loras=(LoraSpec(models["lora"], 1.0),)),
        "vae": dataclasses.replace(request, vae=models["vae"]),
        "embedding": dataclasses.replace(request, prompt="a photo of tinyemb",
                                         embeddings=(EmbeddingSpec(models["embedding"], "tinyemb"),)),
        "controlnet": dataclasses.replace(request, controlnets=(
            ControlNetSpec(models["controlnet"], str(models["control"]), 1.0),)),
        "controlnet_inpaint": dataclasses.replace(request, mask_path=str(models["mask"]), controlnets=(
            ControlNetSpec(models["controlnet"], str(models["control"]), 1.0),)),
    }
    for name, variant in variants.items():
        [image], calls, _ = render(engine, variant)
        assert image.shape == (64, 64, 3) and len(calls) == math.ceil(6 * 0.6), name
        assert np.abs(image - plain).mean() > 0.5, name
    [again], _, _ = render(engine, request)
    assert np.array_equal(again, plain)  # nothing stayed behind


def test_sdxl_img2img_and_inpainting(engine, base, models):
    request = img2img(base, models, checkpoint=models["sdxl"], denoising_strength=0.5)
    [image], calls, _ = render(engine, request)
    assert image.shape == (64, 64, 3) and len(calls) == 3
    [painted], _, _ = render(engine, dataclasses.replace(request, mask_path=str(models["mask"]), mask_blur=0))
    assert np.abs(painted[:, :30] - fitted_init(models)[:, :30]).max() <= 1


@pytest.mark.parametrize("upscaler", ["Latent", "Latent (nearest-exact)", "Lanczos", "model"])
def test_hires_final_size_and_progress_over_both_passes(engine, base, models, upscaler):
    model = models["upscaler"] if upscaler == "model" else None
    spec = HiresSpec(width=128, height=96, upscaler=model.name if model else upscaler, upscaler_model=model,
                     steps=4, denoising_strength=0.5, scale=None)
    request = dataclasses.replace(base, hires=spec)
    [image], calls, [rendered] = render(engine, request)
    assert image.shape == (96, 128, 3) and (rendered.width, rendered.height) == (128, 96)
    total = base.steps + 2
    assert calls == [(i, total) for i in range(1, total + 1)]
    assert "Size: 64x64" in rendered.parameters
    assert f"Hires resize: 128x96, Hires steps: 4, Hires upscaler: {spec.upscaler}" in rendered.parameters


def test_hires_sdxl_with_scale(engine, base, models):
    request = dataclasses.replace(base, checkpoint=models["sdxl"], hires=HiresSpec(width=128, height=128, scale=2))
    [image], calls, [rendered] = render(engine, request)
    assert image.shape == (128, 128, 3) and len(calls) == base.steps + math.ceil(6 * 0.7)
    assert "Denoising strength: 0.7, Hires upscale: 2, Hires upscaler: Latent" in rendered.parameters


def test_cancel_during_the_second_pass(engine, base, models):
    request = dataclasses.replace(base, hires=HiresSpec(width=128, height=128, scale=2))
    calls = []
    with pytest.raises(RenderCancelled):
        engine.render(request, on_progress=lambda done, total: calls.append(done),
                      should_cancel=lambda: len(calls) > base.steps)
    assert calls == list(range(1, base.steps + 2))  # stopped one step into the second pass
    [image], _, _ = render(engine, request)  # the engine is still usable
    assert image.shape == (128, 128, 3)


@pytest.mark.parametrize("changes,message", [
    ({"denoising_strength": 1.5}, "denoising_strength"),
    ({"init_image_path": None, "mask_path": "x.png"}, "a mask needs an init image"),
    ({"hires": HiresSpec(width=128, height=128)}, "text to image only"),
    ({"init_image_path": None, "hires": HiresSpec(width=128, height=60)}, "hires size"),
])
def test_engine_refuses_bad_image_settings(engine, base, models, changes, message):
    with pytest.raises(ValueError, match=message):
        engine.render(dataclasses.replace(base, **{"init_image_path": str(models["init"]), **changes}))


def test_hires_batch_with_lora_and_controlnet(engine, base, models):
    request = dataclasses.replace(base, batch_size=2, loras=(LoraSpec(models["lora"], 0.8),),
                                  controlnets=(ControlNetSpec(models["controlnet"], str(models["control"]), 1.0),),
                                  hires=HiresSpec(width=96, height=128, steps=2, denoising_strength=0.5))
    images, calls, rendered = render(engine, request)
    assert [image.shape for image in images] == [(128, 96, 3)] * 2
    assert [r.seed for r in rendered] == [77, 78] and np.abs(images[0] - images[1]).mean() > 1
    assert calls[-1] == (base.steps + 1, base.steps + 1)
