"""Live previews (issue 26): the engine hands each request a small approx preview every N sampling steps."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from engine import PreviewSettings, RenderEngine, RenderRequest
from engine.loader import load_checkpoint
from engine.tiny_models import write_model_file
from tests.support.engine import model_file

# ComfyUI latent_formats.py SD15 (written out here, independently of engine/previews.py)
SD15_TABLE = np.array([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721],
                       [-0.2120, -0.2616, -0.7177]], dtype=np.float32)


def expected_rgb(latents) -> np.ndarray:
    x = latents.detach().float().cpu().numpy()
    rgb = np.einsum("bchw,cr->bhwr", x, SD15_TABLE)
    return (np.clip((rgb + 1) / 2, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = write_model_file(tmp_path_factory.mktemp("previews") / "tiny.safetensors", kind="checkpoint", arch="sd15")
    return model_file(path, "checkpoint", "tiny")


@pytest.fixture(scope="module")
def engine():
    return RenderEngine(device="cpu", cache_size=1)


def render(engine, checkpoint, sampler, every=1, batch_size=2, steps=4):
    frames = []
    request = RenderRequest(checkpoint=checkpoint, prompt="a cat", width=64, height=96, steps=steps, cfg_scale=7.0,
                            sampler=sampler, seed=7, batch_size=batch_size)
    images = engine.render(request, on_preview=frames.append, previews=PreviewSettings("approx", every))
    return request, images, frames


def test_every_step_previews_each_image_at_latent_size_through_the_sd15_table(engine, checkpoint):
    _, images, frames = render(engine, checkpoint, "Euler")
    assert [frame.sequence for frame in frames] == [1, 2, 3, 4]
    for frame in frames:
        assert frame.source == "latents"
        assert len(frame.images) == 2 and all(image.size == (8, 12) for image in frame.images)
        expected = expected_rgb(frame.latents)
        for image, rows in zip(frame.images, expected):
            assert image.mode == "RGB"
            np.testing.assert_array_equal(np.asarray(image), rows)
    # Euler's last step lands on sigma 0: the last previewed latents are the ones the VAE decoded into the result
    pipe = load_checkpoint(checkpoint.path, torch.float32).pipe
    with torch.no_grad():
        decoded = pipe.vae.decode(frames[-1].latents / pipe.vae.config.scaling_factor).sample
    decoded = ((decoded / 2 + 0.5).clamp(0, 1) * 255).round().permute(0, 2, 3, 1).numpy().astype(np.int16)
    for image, pixels in zip(images, decoded):
        result = np.asarray(Image.open(io.BytesIO(image.png)).convert("RGB")).astype(np.int16)
        assert np.abs(result - pixels).max() <= 1


def test_the_interval_and_the_clean_image_prediction_of_multistep_samplers(engine, checkpoint):
    _, _, frames = render(engine, checkpoint, "DPM++ 2M Karras", every=2, batch_size=1, steps=5)
    assert [frame.sequence for frame in frames] == [1, 2]  # steps 2 and 4
    assert all(frame.source == "x0" for frame in frames)
    for frame in frames:
        np.testing.assert_array_equal(np.asarray(frame.images[0]), expected_rgb(frame.latents)[0])


def test_off_or_no_callback_makes_no_previews(engine, checkpoint):
    frames = []
    request = RenderRequest(checkpoint=checkpoint, prompt="a cat", width=64, height=64, steps=2, sampler="Euler")
    engine.render(request, on_preview=frames.append, previews=PreviewSettings("off", 1))
    engine.render(request, on_preview=frames.append)
    assert frames == []


def test_merged_requests_each_get_previews_of_their_own_images(engine, checkpoint):
    first, second = [], []
    requests = [RenderRequest(checkpoint=checkpoint, prompt=prompt, width=64, height=64, steps=2, sampler="Euler",
                              seed=seed, batch_size=count) for prompt, seed, count in (("a cat", 1, 1), ("a dog", 9, 2))]
    engine.render_batch(requests, on_preview=[first.append, second.append], previews=PreviewSettings("approx", 1))
    assert [len(frame.images) for frame in first] == [1, 1] and [len(frame.images) for frame in second] == [2, 2]
    for frame in first + second:
        assert frame.latents.shape[0] == len(frame.images)
        for image, rows in zip(frame.images, expected_rgb(frame.latents)):
            np.testing.assert_array_equal(np.asarray(image), rows)
