"""Samplers and schedule types in real renders of a tiny SD1.5 checkpoint (CPU): the UNet is called at the
timesteps of the schedule A1111 computes, seen with a torch forward hook; nothing of the render is replaced."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from engine import HiresSpec, RenderEngine, RenderRequest, architecture
from engine.schedules import schedule_sigmas, sigma_to_t, training_sigmas
from engine.tiny_models import write_model_file
from tests.support.engine import model_file, render_with_unet_timesteps


@pytest.fixture(scope="module")
def engine():
    return RenderEngine(device="cpu", cache_size=1)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = write_model_file(tmp_path_factory.mktemp("schedules") / "tiny-sd15.safetensors", kind="checkpoint",
                            arch="sd15", seed=0)
    return RenderRequest(checkpoint=model_file(path, "checkpoint", "tiny-sd15"), prompt="a lighthouse", width=64,
                         height=64, steps=4, cfg_scale=7.0, seed=77)


def unet_timesteps(engine, request):
    """(the timesteps the UNet got, one per step, the render's images) and the scheduler the pipeline used."""
    seen, images, pipe = render_with_unet_timesteps(engine, request)
    return seen, images, pipe.scheduler


def a1111_timesteps(label, steps):
    training = training_sigmas(diffusers_alphas())
    sigmas = schedule_sigmas(label, steps, training, "sd15")
    return sigmas, [sigma_to_t(sigma, training) for sigma in sigmas[:-1]]


def diffusers_alphas():
    import diffusers

    return diffusers.EulerDiscreteScheduler.from_config(
        architecture.template("sd15/scheduler/scheduler_config.json")).alphas_cumprod.numpy()


@pytest.mark.parametrize("label", ["SGM Uniform", "KL Optimal"])
def test_euler_renders_with_the_written_schedule(engine, base, label):
    request = dataclasses.replace(base, sampler="Euler", scheduler=label)
    seen, images, scheduler = unet_timesteps(engine, request)
    sigmas, expected = a1111_timesteps(label, base.steps)
    np.testing.assert_allclose(seen, expected, atol=2e-2)
    np.testing.assert_allclose(scheduler.sigmas.double().numpy(), sigmas, rtol=2e-4, atol=1e-6)
    assert f"Sampler: Euler, Schedule type: {label}," in images[0].parameters
    plain = unet_timesteps(engine, dataclasses.replace(request, scheduler="Automatic"))[0]
    assert not np.allclose(plain, seen, atol=1)  # the schedule type changes what the UNet is given


def test_lcm_renders_with_its_own_schedule(engine, base):
    seen, images, scheduler = unet_timesteps(engine, dataclasses.replace(base, sampler="LCM", cfg_scale=1.0))
    assert type(scheduler).__name__ == "LCMScheduler"
    assert seen == [999.0, 759.0, 499.0, 259.0]  # LCM's 50-step grid, evenly skipped
    assert "Sampler: LCM, Schedule type: Automatic," in images[0].parameters
    assert scheduler.timesteps.shape == torch.Size([4])


def test_dpmpp_sde_with_sgm_uniform_uses_trailing_timesteps(engine, base):
    seen, images, _ = unet_timesteps(engine, dataclasses.replace(base, sampler="DPM++ SDE", scheduler="SGM Uniform",
                                                                 steps=2))
    # second order: two model calls per step but the last; the steps start at 999 and 499 (trailing: 1000/2 apart)
    assert seen[0] == pytest.approx(999, abs=1e-3) and round(seen[2]) == 499
    assert "Sampler: DPM++ SDE, Schedule type: SGM Uniform," in images[0].parameters


@pytest.mark.parametrize("label", ["KL Optimal", "DDIM"])
def test_written_schedules_reach_image_to_image_and_the_hires_pass(engine, base, tmp_path, label):
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (200, 120, 40)).save(init)
    request = dataclasses.replace(base, sampler="Euler", scheduler=label, steps=7, init_image_path=str(init),
                                  denoising_strength=0.5)
    seen, images, _ = unet_timesteps(engine, request)
    _, expected = a1111_timesteps(label, 7)
    assert len(seen) >= 3 and np.allclose(seen, expected[-len(seen):], atol=2e-2)  # the schedule's tail
    hires = dataclasses.replace(base, sampler="Euler", scheduler=label, steps=3,
                                hires=HiresSpec(width=128, height=128, scale=2, steps=2, denoising_strength=0.6))
    seen, images, _ = unet_timesteps(engine, hires)
    first_pass, second_pass = a1111_timesteps(label, 3)[1], a1111_timesteps(label, 2)[1]
    np.testing.assert_allclose(seen[:len(first_pass)], first_pass, atol=2e-2)
    rest = seen[len(first_pass):]  # the second pass: the tail of its own 2-step schedule (denoising 0.6)
    assert rest and np.allclose(rest, second_pass[-len(rest):], atol=2e-2)
    assert images[0].width == 128
