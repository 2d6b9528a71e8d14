"""Upscaler models in the engine (D38): safe loading, tiling, sizes (tiny ESRGAN on the CPU)."""

import hashlib
import io

import numpy as np
import pytest
import torch
from PIL import Image

from engine import CheckpointError, ModelFile, RenderCancelled, RenderEngine, UpscaleRequest, upscale
from engine.tiny_models import upscaler_state_dict, write_model_file


class NotATensor:
    """Any class a pickle could rebuild: what weights-only loading must refuse."""

    def __reduce__(self):
        return (print, ("this ran while unpickling",))


def _model_file(path, name="tiny-upscaler"):
    return ModelFile(path=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest(), name=name, kind="upscaler")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upscalers")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / "small.png")
    Image.fromarray(rng.integers(0, 255, (72, 232, 3), dtype=np.uint8)).save(folder / "wide.png")
    return folder


@pytest.fixture(scope="module")
def engine():
    return RenderEngine(device="cpu")


def _png(rendered):
    with Image.open(io.BytesIO(rendered.png)) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def test_upscales_64_to_256_at_4x(engine, folder):
    model = _model_file(write_model_file(folder / "esrgan.safetensors", kind="upscaler"))
    rendered = engine.upscale(UpscaleRequest(str(folder / "small.png"), 4.0, model))
    assert (rendered.width, rendered.height) == (256, 256) and _png(rendered).shape == (256, 256, 3)
    assert rendered.parameters == "Postprocess upscale by: 4, Postprocess upscaler: tiny-upscaler"
    # a scale that is not a power of the model's: the network once, then Lanczos down to the exact size
    assert engine.upscale(UpscaleRequest(str(folder / "small.png"), 2.5, model)).width == 160


def test_weights_only_pth_gives_the_same_result(engine, folder):
    safetensors = _model_file(write_model_file(folder / "a.safetensors", kind="upscaler", seed=3))
    pth = _model_file(write_model_file(folder / "a.pth", kind="upscaler", seed=3))
    request = UpscaleRequest(str(folder / "small.png"), 4.0)
    a = engine.upscale(UpscaleRequest(request.image_path, 4.0, safetensors))
    b = engine.upscale(UpscaleRequest(request.image_path, 4.0, pth))
    assert a.png == b.png


def test_pickle_that_needs_unsafe_loading_is_refused(folder, capfd):
    path = folder / "evil.pth"
    torch.save({**upscaler_state_dict(), "extra": NotATensor()}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        upscale.load_upscaler(str(path))
    assert "this ran" not in capfd.readouterr().out


def test_old_esrgan_key_layout_loads_to_the_same_network(folder):
    new = upscaler_state_dict(seed=5)
    renames = {"conv_first": "model.0", "conv_body": "model.1.sub.1", "conv_up1": "model.3", "conv_up2": "model.6",
               "conv_hr": "model.8", "conv_last": "model.10"}
    old = {}
    for key, value in new.items():
        prefix, _, kind = key.rpartition(".")
        if key.startswith("body."):
            _, block, rdb, conv, kind = key.split(".")
            old[f"model.1.sub.{block}.{rdb.upper()}.{conv}.0.{kind}"] = value
        else:
            old[f"{renames[prefix]}.{kind}"] = value
    torch.save(new, folder / "new.pth")
    torch.save(old, folder / "old.pth")
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        a, b = (upscale.load_upscaler(str(folder / f"{name}.pth")).model(x) for name in ("new", "old"))
    assert a.shape == (1, 3, 64, 64) and torch.equal(a, b)


def test_tiles_match_one_whole_pass(folder):
    """A 232x72 image crosses a tile border (TILE=192): the cross-faded seam stays within a few levels."""
    upscaler = upscale.load_upscaler(str(write_model_file(folder / "t.safetensors", kind="upscaler", seed=1)))
    with Image.open(folder / "wide.png") as image:
        tiled = np.asarray(upscaler.run_tiled(image)).astype(np.int16)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        whole = (upscaler.model(pixels)[0].clamp(0, 1) * 255).round().permute(1, 2, 0).numpy().astype(np.int16)
    assert tiled.shape == whole.shape == (288, 928, 3)
    assert np.abs(tiled - whole).mean() < 0.5 and np.abs(tiled - whole).max() <= 16


def test_lanczos_without_a_model_and_cancel_between_tiles(engine, folder):
    rendered = engine.upscale(UpscaleRequest(str(folder / "wide.png"), 2.0))
    assert (rendered.width, rendered.height) == (464, 144)
    assert rendered.parameters.endswith("Postprocess upscaler: Lanczos")
    model = _model_file(write_model_file(folder / "c.safetensors", kind="upscaler", seed=2))
    with pytest.raises(RenderCancelled):
        engine.upscale(UpscaleRequest(str(folder / "wide.png"), 4.0, model), should_cancel=lambda: True)
