"""SDXL v-prediction and zero terminal SNR (engine/prediction.py): recognised from a checkpoint's `v_pred` / `ztsnr`
keys or a `.yaml` sidecar, and rendered with the v-prediction scheduler on zero-terminal-SNR betas (tiny SDXL on
the CPU; what the UNet was called with is seen through a torch forward hook, the scheduler through the pipeline)."""

import dataclasses
import math

import pytest
from PIL import Image

from engine import HiresSpec, RenderEngine, RenderRequest, architecture
from engine.engine import batch_key
from engine.files import read_shapes
from engine.prediction import (
    GUIDANCE_RESCALE,
    ZTSNR_LAST_ALPHA_BAR,
    Prediction,
    detect,
    sidecar_prediction_type,
)
from engine.tiny_models import model_configs, write_model_file
from tests.support.engine import model_file, render_with_unet_timesteps


@pytest.fixture(scope="module")
def engine():
    return RenderEngine(device="cpu", cache_size=1)


@pytest.fixture(scope="module")
def vpred_path(tmp_path_factory):
    return write_model_file(tmp_path_factory.mktemp("vpred") / "tiny-sdxl-vpred.safetensors", arch="sdxl-vpred")


@pytest.fixture(scope="module")
def base(vpred_path):
    return RenderRequest(checkpoint=model_file(vpred_path, "checkpoint", "tiny-vpred"), prompt="a lighthouse",
                         negative_prompt="blurry", width=64, height=64, steps=4, cfg_scale=5.0, seed=3,
                         sampler="DDIM")


def test_the_vpred_test_file_is_sdxl_with_the_v_prediction_scheduler(vpred_path):
    shapes = read_shapes(str(vpred_path))
    assert {"v_pred", "ztsnr"} <= shapes.keys()
    inferred = architecture.infer_checkpoint(shapes)
    assert inferred.family == "sdxl" and inferred.configs == model_configs("sdxl")
    assert inferred.prediction == Prediction("v_prediction", True)
    shipped = architecture.template("sdxl/scheduler/scheduler_config.json")
    assert inferred.scheduler_config == {**shipped, "prediction_type": "v_prediction"}
    assert shipped["prediction_type"] == "epsilon"


def test_a_plain_sdxl_file_is_epsilon(tmp_path):
    path = write_model_file(tmp_path / "plain.safetensors", arch="sdxl")
    assert architecture.infer_checkpoint(read_shapes(str(path))).prediction == Prediction("epsilon", False)


@pytest.mark.parametrize("text, expected", [
    ("model:\n  target: sgm.models.diffusion.DiffusionEngine\n  params:\n    parameterization: v\n", "v_prediction"),
    ('model:\n  params:\n    parameterization: "v"\n', "v_prediction"),
    ("model:\n  params:\n    denoiser_config:\n      params:\n        scaling_config:\n"
     "          target: sgm.modules.diffusionmodules.denoiser_scaling.VScaling\n", "v_prediction"),
    ("model:\n  params:\n    parameterization: eps\n", "epsilon"),
    ("model:\n  params:\n    linear_start: 0.00085\n", None),
    ("{unbalanced: [", None),
])
def test_sidecar_yaml_parameterization(text, expected):
    assert sidecar_prediction_type(text) == expected


def test_a_sidecar_yaml_makes_a_plain_file_v_prediction(tmp_path):
    path = write_model_file(tmp_path / "noob.safetensors", arch="sdxl")
    shapes = read_shapes(str(path))
    assert detect(shapes, path) == Prediction()
    (tmp_path / "noob.yaml").write_text("model:\n  params:\n    parameterization: v\n")
    assert detect(shapes, path) == Prediction("v_prediction", False)


def render_seen(engine, request):
    """(the timesteps the UNet was called at, the scheduler the last pipeline call used, the pipeline's
    guidance_rescale) of a render."""
    seen, images, pipe = render_with_unet_timesteps(engine, request)
    assert images and all(image.png for image in images)
    return seen, pipe.scheduler, pipe.guidance_rescale


def test_vpred_ztsnr_render_uses_v_prediction_on_zero_snr_betas(engine, base):
    seen, scheduler, rescale = render_seen(engine, base)
    assert scheduler.config.prediction_type == "v_prediction"
    assert scheduler.alphas_cumprod[-1].item() == pytest.approx(ZTSNR_LAST_ALPHA_BAR, rel=1e-5)
    assert seen == [999.0, 749.0, 499.0, 249.0]  # DDIM: "trailing" spacing starts at the terminal timestep
    assert rescale == GUIDANCE_RESCALE


def test_the_libraries_override_renders_as_epsilon(engine, base):
    plain = dataclasses.replace(base, checkpoint=dataclasses.replace(
        base.checkpoint, prediction_type="epsilon", zero_terminal_snr=False))
    seen, scheduler, rescale = render_seen(engine, plain)
    assert scheduler.config.prediction_type == "epsilon"
    assert scheduler.alphas_cumprod[-1].item() == pytest.approx(0.0047, rel=0.05)
    assert seen == [751.0, 501.0, 251.0, 1.0]  # DDIM's own "leading" spacing, offset 1
    assert rescale == 0.0
    assert batch_key(plain) != batch_key(base)


def test_euler_written_sigmas_start_at_the_zero_snr_sigma_max(engine, base):
    request = dataclasses.replace(base, sampler="Euler", scheduler="SGM Uniform")
    seen, scheduler, _ = render_seen(engine, request)
    sigma_max = math.sqrt((1 - ZTSNR_LAST_ALPHA_BAR) / ZTSNR_LAST_ALPHA_BAR)  # ≈ 4518
    assert scheduler.sigmas[0].item() == pytest.approx(sigma_max, rel=1e-3)
    assert seen[0] == pytest.approx(999.0, abs=1e-3)
    assert scheduler.config.prediction_type == "v_prediction"


def test_img2img_and_hires_passes_use_the_same_scheduler_config(engine, base, tmp_path):
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (200, 80, 40)).save(init)
    img2img = dataclasses.replace(base, sampler="Euler", init_image_path=str(init), denoising_strength=0.5)
    hires = dataclasses.replace(base, sampler="Euler a", hires=HiresSpec(width=96, height=96, denoising_strength=0.5))
    for request, first_pass in ((img2img, 0), (hires, base.steps)):
        seen, scheduler, rescale = render_seen(engine, request)  # the scheduler of the last (image to image) pass
        assert scheduler.config.prediction_type == "v_prediction"
        assert scheduler.alphas_cumprod[-1].item() == pytest.approx(ZTSNR_LAST_ALPHA_BAR, rel=1e-5)
        assert rescale == GUIDANCE_RESCALE
        assert seen[:first_pass] == [999.0, 666.0, 333.0, 0.0][:first_pass]
        assert seen[first_pass:] == [333.0, 0.0]  # image to image at strength 0.5: the last half of the schedule
