"""The render engine end to end on tiny random-weight models in the real single-file layouts (CPU)."""

import dataclasses
import io

import pytest
from PIL import Image

from engine import (
    SAMPLER_NAMES,
    CheckpointError,
    ControlNetSpec,
    EmbeddingSpec,
    LoraSpec,
    ModelFile,
    RenderCancelled,
    RenderEngine,
    RenderRequest,
    random_seed,
)
from engine.a1111.names import written_schedule
from engine.tiny_models import write_model_file
from tests.support.engine import model_file as _model_file


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engine-models")
    files = {
        "checkpoint": ("checkpoint", "sd15", 0, "tiny-sd15"),
        "other": ("checkpoint", "sd15", 1, "tiny-sd15-b"),
        "lora": ("lora", "sd15", 2, "tiny-lora"),
        "vae": ("vae", "sd15", 3, "tiny-vae"),
        "embedding": ("embedding", "sd15", 4, "tiny-embedding"),
        "controlnet": ("controlnet", "sd15", 5, "tiny-controlnet"),
        "sdxl": ("checkpoint", "sdxl", 6, "tiny-sdxl"),
        "sdxl_lora": ("lora", "sdxl", 7, "tiny-sdxl-lora"),
        "sdxl_embedding": ("embedding", "sdxl", 8, "tiny-sdxl-embedding"),
    }
    out = {}
    for key, (kind, arch, seed, name) in files.items():
        path = write_model_file(folder / f"{name}.safetensors", kind=kind, arch=arch, seed=seed)
        out[key] = _model_file(path, kind, name)
    control = folder / "control.png"
    Image.new("RGB", (64, 64), (255, 255, 255)).save(control)
    out["control_image"] = str(control)
    return out


@pytest.fixture(scope="module")
def engine():
    return RenderEngine(device="cpu", cache_size=2)


@pytest.fixture(scope="module")
def base(models):
    return RenderRequest(checkpoint=models["checkpoint"], prompt="a photo of a cat", width=64, height=64, steps=3,
                         cfg_scale=7.0, sampler="Euler a", seed=1234)


@pytest.fixture(scope="module")
def baseline(engine, base):
    return engine.render(base)[0]


def _pixels(png: bytes):
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _same_pixels(a, b) -> bool:
    return _pixels(a.png).tobytes() == _pixels(b.png).tobytes()


def test_renders_a_png_with_its_seed_and_size(baseline):
    image = _pixels(baseline.png)
    assert (image.format, image.size, image.mode) == ("PNG", (64, 64), "RGB")
    assert (baseline.seed, baseline.width, baseline.height) == (1234, 64, 64)
    assert len(set(image.getdata())) > 50  # a real, varied picture, not a flat colour


def test_non_square_size(engine, base):
    [image] = engine.render(dataclasses.replace(base, width=96, height=64, steps=2))
    assert _pixels(image.png).size == (96, 64) and (image.width, image.height) == (96, 64)


def test_fixed_seed_gives_identical_bytes_and_other_seed_differs(engine, base, baseline):
    assert engine.render(base)[0].png == baseline.png
    assert engine.render(dataclasses.replace(base, seed=1235))[0].png != baseline.png


def test_batch_uses_seed_plus_i(engine, base):
    images = engine.render(dataclasses.replace(base, seed=77, batch_size=3, sampler="Euler"))
    assert [i.seed for i in images] == [77, 78, 79]
    assert len({i.png for i in images}) == 3
    assert ["Seed: 77," in i.parameters for i in images] == [True, False, False]
    assert "Seed: 79," in images[2].parameters
    # each image matches its own single render up to float rounding of the batched math
    alone = _pixels(engine.render(dataclasses.replace(base, seed=78, sampler="Euler"))[0].png)
    batched = _pixels(images[1].png)
    assert max(abs(a - b) for pa, pb in zip(alone.getdata(), batched.getdata()) for a, b in zip(pa, pb)) <= 2


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_every_sampler_renders_deterministically(engine, base, sampler):
    request = dataclasses.replace(base, sampler=sampler, steps=2)
    first = engine.render(request)[0]
    assert _pixels(first.png).size == (64, 64)
    assert engine.render(request)[0].png == first.png
    written, schedule = written_schedule(sampler)  # A1111 1.9+: the schedule apart, Automatic resolved
    assert f"Sampler: {written}, Schedule type: {schedule}," in first.parameters


def test_progress_counts_model_calls(engine, base):
    calls = []
    engine.render(dataclasses.replace(base, sampler="Heun", steps=3), on_progress=lambda d, t: calls.append((d, t)))
    total = calls[-1][1]
    assert total == 5  # Heun: two model calls per step but the last
    assert calls == [(i, total) for i in range(1, total + 1)]
    calls.clear()
    engine.render(dataclasses.replace(base, sampler="Euler", steps=4), on_progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cancel_raises_and_the_next_render_is_unchanged(engine, base, baseline):
    calls = []
    with pytest.raises(RenderCancelled):
        engine.render(base, on_progress=lambda d, t: calls.append(d), should_cancel=lambda: len(calls) >= 1)
    assert calls == [1]
    with pytest.raises(RenderCancelled):
        engine.render(base, should_cancel=lambda: True)
    assert engine.render(base)[0].png == baseline.png


def test_png_parameters_chunk(engine, models, base):
    request = dataclasses.replace(base, negative_prompt="blurry, lowres", cfg_scale=6.5, steps=2,
                                  sampler="DPM++ 2M Karras", vae=models["vae"],
                                  loras=(LoraSpec(models["lora"], 0.5),))
    [image] = engine.render(request)
    ck, vae, lora = models["checkpoint"], models["vae"], models["lora"]
    expected = (
        "a photo of a cat\n"
        "Negative prompt: blurry, lowres\n"
        f"Steps: 2, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 64x64, "
        f"Model hash: {ck.sha256[:10]}, Model: tiny-sd15, VAE hash: {vae.sha256[:10]}, VAE: tiny-vae, "
        f'Lora hashes: "tiny-lora: {lora.sha256[:10]}"'
    )
    assert image.parameters == expected
    assert _pixels(image.png).text == {"parameters": expected}
    # no negative prompt: no such line; integral CFG printed without ".0"
    [plain] = engine.render(dataclasses.replace(base, steps=2))
    assert plain.parameters == (
        "a photo of a cat\nSteps: 2, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1234, Size: 64x64, "
        f"Model hash: {ck.sha256[:10]}, Model: tiny-sd15")
    assert b"tIME" not in plain.png


def test_lora_changes_the_image_and_unloads_exactly(engine, models, base, baseline):
    with_lora = engine.render(dataclasses.replace(base, loras=(LoraSpec(models["lora"], 1.0),)))[0]
    assert not _same_pixels(with_lora, baseline)
    weaker = engine.render(dataclasses.replace(base, loras=(LoraSpec(models["lora"], 0.3),)))[0]
    assert not _same_pixels(weaker, with_lora) and not _same_pixels(weaker, baseline)
    off = engine.render(dataclasses.replace(base, loras=(LoraSpec(models["lora"], 0.0),)))[0]
    assert _same_pixels(off, baseline)
    assert engine.render(base)[0].png == baseline.png
    assert engine.render(dataclasses.replace(base, loras=(LoraSpec(models["lora"], 1.0),)))[0].png == with_lora.png


def test_vae_override_changes_the_image_and_is_undone(engine, models, base, baseline):
    with_vae = engine.render(dataclasses.replace(base, vae=models["vae"]))[0]
    assert not _same_pixels(with_vae, baseline)
    assert engine.render(base)[0].png == baseline.png


def test_embedding_acts_through_its_token(engine, models, base, baseline):
    spec = EmbeddingSpec(models["embedding"], token="kitty")
    # the token is not in the prompt: no effect, not listed
    assert engine.render(dataclasses.replace(base, embeddings=(spec,)))[0].png == baseline.png
    request = dataclasses.replace(base, prompt="a photo of a Kitty", embeddings=(spec,))
    with_embedding = engine.render(request)[0]
    plain_word = engine.render(dataclasses.replace(base, prompt="a photo of a Kitty"))[0]
    assert not _same_pixels(with_embedding, plain_word)
    assert with_embedding.parameters.startswith("a photo of a Kitty\n")
    assert with_embedding.parameters.endswith(f', TI hashes: "kitty: {spec.model.sha256[:10]}"')
    assert engine.render(request)[0].png == with_embedding.png
    # in the negative prompt too
    negative = engine.render(dataclasses.replace(base, negative_prompt="kitty", embeddings=(spec,)))[0]
    assert not _same_pixels(negative, engine.render(dataclasses.replace(base, negative_prompt="kitty"))[0])
    # a trigger that is also an ordinary word works, and everything is unloaded afterwards
    as_word = engine.render(dataclasses.replace(base, embeddings=(EmbeddingSpec(models["embedding"], "cat"),)))[0]
    assert not _same_pixels(as_word, baseline)
    assert engine.render(base)[0].png == baseline.png


def test_controlnet_changes_the_image(engine, models, base, baseline):
    spec = ControlNetSpec(models["controlnet"], image_path=models["control_image"], weight=1.0)
    controlled = engine.render(dataclasses.replace(base, controlnets=(spec,)))[0]
    assert not _same_pixels(controlled, baseline)
    zero = engine.render(dataclasses.replace(base, controlnets=(dataclasses.replace(spec, weight=0.0),)))[0]
    assert _same_pixels(zero, baseline)
    assert engine.render(base)[0].png == baseline.png


def test_ram_cache_avoids_disk_loads(models, base):
    engine = RenderEngine(device="cpu", cache_size=2)
    first, other = base, dataclasses.replace(base, checkpoint=models["other"])
    engine.render(first)
    engine.render(first)
    stats = engine.stats()
    assert (stats["disk_loads"], stats["device_hits"], stats["ram_hits"]) == (1, 1, 0)
    engine.render(other)
    engine.render(first)
    stats = engine.stats()
    assert (stats["disk_loads"], stats["ram_hits"], stats["loaded"]) == (2, 1, models["checkpoint"].sha256)
    small = RenderEngine(device="cpu", cache_size=1)
    for request in (first, other, first):
        small.render(request)
    assert small.stats()["disk_loads"] == 3


def test_unusable_files_raise_checkpoint_error(engine, models, base, baseline, tmp_path):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(open(models["checkpoint"].path, "rb").read()[:4000])
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a pickle at all")
    for path in (truncated, garbage, tmp_path / "missing.safetensors"):
        bad = ModelFile(path=str(path), sha256="0" * 64, name="bad", kind="checkpoint")
        with pytest.raises(CheckpointError):
            engine.render(dataclasses.replace(base, checkpoint=bad))
    lora_as_checkpoint = dataclasses.replace(models["lora"], kind="checkpoint")
    with pytest.raises(CheckpointError, match="LoRA"):
        engine.render(dataclasses.replace(base, checkpoint=lora_as_checkpoint))
    with pytest.raises(CheckpointError):
        engine.render(dataclasses.replace(base, loras=(LoraSpec(models["vae"]),)))
    with pytest.raises(CheckpointError):
        engine.render(dataclasses.replace(base, embeddings=(EmbeddingSpec(models["sdxl_embedding"], "cat"),)))
    assert engine.render(base)[0].png == baseline.png


def test_bad_request_values(engine, base):
    for change in ({"sampler": "Nope"}, {"width": 65}, {"steps": 0}, {"seed": -1}):
        with pytest.raises(ValueError):
            engine.render(dataclasses.replace(base, **change))


def test_sdxl_renders_with_lora_and_embedding(engine, models):
    request = RenderRequest(checkpoint=models["sdxl"], prompt="a photo of a cat", negative_prompt="dull",
                            width=64, height=64, steps=2, sampler="Euler", seed=5)
    [image] = engine.render(request)
    assert _pixels(image.png).size == (64, 64)
    assert engine.render(request)[0].png == image.png
    with_lora = engine.render(dataclasses.replace(request, loras=(LoraSpec(models["sdxl_lora"], 1.0),)))[0]
    assert not _same_pixels(with_lora, image)
    spec = EmbeddingSpec(models["sdxl_embedding"], "cat")
    assert not _same_pixels(engine.render(dataclasses.replace(request, embeddings=(spec,)))[0], image)
    assert engine.render(request)[0].png == image.png


def test_random_seed_range():
    seeds = {random_seed() for _ in range(50)}
    assert len(seeds) > 45 and all(0 <= s < 2**32 for s in seeds)
