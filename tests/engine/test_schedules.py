"""A1111's schedule types: the sigmas each diffusers scheduler gets equal those A1111 computes.

The expected values come from A1111's formulas (modules/sd_schedulers.py and k-diffusion's sampling.py and
external.py, 1.10), written out here with torch on the SD1.5 noise schedule as LDM builds it; the engine computes
them apart (engine/schedules.py, numpy) or takes diffusers' option for them."""

import inspect

import diffusers
import numpy as np
import pytest
import torch
from scipy import stats

from engine import architecture
from engine.a1111.names import (
    SAMPLER_NAMES,
    SAMPLERS,
    SCHEDULE_LABELS,
    pasted_schedule,
    resolve_schedule,
    split_sampler,
    written_schedule,
)
from engine.samplers import FLAGS, SAMPLER_SCHEDULERS, make_scheduler, schedule_problem, supported_schedules
from engine.schedules import AYS_SIGMAS

STEPS = 10


class A1111Model:
    """k-diffusion's CompVisDenoiser over LDM's SD1.5 schedule (scaled linear betas), unquantised."""

    def __init__(self):
        betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
        alphas_cumprod = torch.cumprod(1 - betas, 0)
        self.sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        self.log_sigmas = self.sigmas.log()
        self.sigma_min, self.sigma_max = self.sigmas[0].item(), self.sigmas[-1].item()

    def sigma_to_t(self, sigma):
        log_sigma = sigma.log()
        dists = log_sigma - self.log_sigmas[:, None]
        low_idx = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=self.log_sigmas.shape[0] - 2)
        high_idx = low_idx + 1
        low, high = self.log_sigmas[low_idx], self.log_sigmas[high_idx]
        w = ((low - log_sigma) / (low - high)).clamp(0, 1)
        return ((1 - w) * low_idx + w * high_idx).view(sigma.shape)

    def t_to_sigma(self, t):
        t = torch.as_tensor(t, dtype=torch.float64)
        low_idx, high_idx, w = t.floor().long(), t.ceil().long(), t.frac()
        return ((1 - w) * self.log_sigmas[low_idx] + w * self.log_sigmas[high_idx]).exp()

    def get_sigmas(self, n):
        return append_zero(self.t_to_sigma(torch.linspace(len(self.sigmas) - 1, 0, n, dtype=torch.float64)))


def append_zero(x):
    return torch.cat([x, x.new_zeros([1])])


def a1111_sigmas(label, n, model, sdxl=False):
    smin, smax = model.sigma_min, model.sigma_max
    if label in ("Uniform", "Automatic"):
        return model.get_sigmas(n)
    if label == "Karras":
        ramp = torch.linspace(0, 1, n, dtype=torch.float64)
        return append_zero((smax ** (1 / 7) + ramp * (smin ** (1 / 7) - smax ** (1 / 7))) ** 7)
    if label == "Exponential":
        return append_zero(torch.linspace(np.log(smax), np.log(smin), n, dtype=torch.float64).exp())
    if label == "Polyexponential":
        ramp = torch.linspace(1, 0, n, dtype=torch.float64) ** 1.0
        return append_zero(torch.exp(ramp * (np.log(smax) - np.log(smin)) + np.log(smin)))
    if label == "SGM Uniform":
        start, end = model.sigma_to_t(torch.tensor(smax, dtype=torch.float64)), model.sigma_to_t(
            torch.tensor(smin, dtype=torch.float64))
        return torch.tensor([model.t_to_sigma(ts).item() for ts in torch.linspace(start, end, n + 1)[:-1]] + [0.0])
    if label == "KL Optimal":
        alpha_min, alpha_max = torch.arctan(torch.tensor(smin)), torch.arctan(torch.tensor(smax))
        i = torch.arange(n + 1, dtype=torch.float64)
        return torch.tan(i / n * alpha_min + (1.0 - i / n) * alpha_max)
    if label == "Align Your Steps":
        sigmas = list(AYS_SIGMAS["sdxl" if sdxl else "sd"])
        if n != len(sigmas):
            xs, ys = np.linspace(0, 1, len(sigmas)), np.log(sigmas[::-1])
            sigmas = np.append(np.exp(np.interp(np.linspace(0, 1, n), xs, ys))[::-1].copy(), [0.0])
        else:
            sigmas.append(0.0)
        return torch.tensor(sigmas, dtype=torch.float64)
    if label == "Simple":
        ss = len(model.sigmas) / n
        return torch.tensor([float(model.sigmas[-(1 + int(x * ss))]) for x in range(n)] + [0.0])
    if label == "Normal":
        start, end = model.sigma_to_t(torch.tensor(smax, dtype=torch.float64)), model.sigma_to_t(
            torch.tensor(smin, dtype=torch.float64))
        return torch.tensor([model.t_to_sigma(ts).item() for ts in torch.linspace(start, end, n)] + [0.0])
    if label == "DDIM":
        sigs, ss, x = [], max(len(model.sigmas) // n, 1), 1
        while x < len(model.sigmas):
            sigs.append(float(model.sigmas[x]))
            x += ss
        return torch.tensor(sigs[::-1] + [0.0])
    if label == "Beta":
        timesteps = [stats.beta.ppf(x, 0.6, 0.6) for x in 1 - np.linspace(0, 1, n)]
        return torch.tensor([smin + x * (smax - smin) for x in timesteps] + [0.0])
    raise AssertionError(label)


MODEL = A1111Model()
SD15 = architecture.template("sd15/scheduler/scheduler_config.json")
SDXL = architecture.template("sdxl/scheduler/scheduler_config.json")


def given_sigmas(scheduler, n):
    """The distinct sigmas a diffusers scheduler steps through after set_timesteps(n) (second-order schedulers
    list each inner sigma twice)."""
    scheduler.set_timesteps(n)
    sigmas = scheduler.sigmas.double().numpy()
    return np.array([s for i, s in enumerate(sigmas) if i == 0 or s != sigmas[i - 1]])


@pytest.mark.parametrize("steps", [STEPS, 7])
@pytest.mark.parametrize("label", SCHEDULE_LABELS)
def test_euler_gets_each_schedule_type_as_a1111_computes_it(label, steps):
    scheduler = make_scheduler("Euler", SD15, [0], label)
    np.testing.assert_allclose(given_sigmas(scheduler, steps), a1111_sigmas(label, steps, MODEL).numpy(),
                               rtol=2e-4, atol=1e-6)
    # the timesteps the UNet gets are the sigmas' (fractional) timesteps, as k-diffusion's sigma_to_t
    expected_t = [MODEL.sigma_to_t(s.reshape(1)).item()
                  for s in a1111_sigmas(label, steps, MODEL)[:-1]]
    if label != "KL Optimal":  # its last sigma is σmin, not 0: diffusers drops the last sigma's timestep the same
        np.testing.assert_allclose(scheduler.timesteps.double().numpy(), expected_t, atol=2e-2)


def test_align_your_steps_follows_the_family_and_agrees_with_diffusers():
    sdxl = make_scheduler("Euler", SDXL, [0], "Align Your Steps", family="sdxl")
    np.testing.assert_allclose(given_sigmas(sdxl, 11), a1111_sigmas("Align Your Steps", 11, MODEL, sdxl=True),
                               rtol=1e-6)
    np.testing.assert_allclose(given_sigmas(sdxl, 4), a1111_sigmas("Align Your Steps", 4, MODEL, sdxl=True),
                               rtol=1e-5)
    for key, family in (("StableDiffusionSigmas", "sd"), ("StableDiffusionXLSigmas", "sdxl")):
        assert diffusers.schedulers.AysSchedules[key][:-1] == AYS_SIGMAS[family][:-1]


# Other samplers take the schedule types diffusers has as options: Karras, Exponential, Beta exactly; Uniform,
# Simple and SGM Uniform as integer timesteps ("linspace" / "trailing" spacing), equal to A1111's at 10 steps
# but for SGM Uniform (A1111's timesteps are 99.9 apart, diffusers' 100)
TOLERANCE = {"SGM Uniform": 1e-2}
OPTION_CASES = [(sampler, label) for sampler in SAMPLERS if sampler != "Euler"
                for label in supported_schedules(sampler) if label != "Automatic"]


@pytest.mark.parametrize("sampler, label", OPTION_CASES)
def test_other_samplers_get_the_schedule_types_diffusers_has(sampler, label):
    scheduler = make_scheduler(sampler, SD15, [0], label)
    np.testing.assert_allclose(given_sigmas(scheduler, STEPS), a1111_sigmas(label, STEPS, MODEL).numpy(),
                               rtol=TOLERANCE.get(label, 2e-4), atol=1e-6)


def test_automatic_is_the_samplers_a1111_default():
    for sampler, label in (("DPM++ 2M", "Karras"), ("DPM++ 2M SDE", "Exponential"), ("DPM2 a", "Karras"),
                           ("Euler a", "Uniform"), ("LMS", "Uniform")):
        np.testing.assert_allclose(given_sigmas(make_scheduler(sampler, SD15, [0]), STEPS),
                                   a1111_sigmas(label, STEPS, MODEL).numpy(), rtol=2e-4, atol=1e-6)
    assert written_schedule("DPM++ 2M") == ("DPM++ 2M", "Karras")
    assert written_schedule("Euler a") == ("Euler a", "Automatic")
    assert written_schedule("DPM++ 2M SDE Karras") == ("DPM++ 2M SDE", "Karras")


def test_lcm_is_diffusers_lcm_scheduler():
    lcm = make_scheduler("LCM", SD15, [0])
    assert type(lcm) is diffusers.LCMScheduler
    lcm.set_timesteps(4)
    assert lcm.timesteps.tolist() == [999, 759, 499, 259]  # 50 original steps, evenly skipped


def test_the_support_table_matches_what_each_diffusers_scheduler_takes():
    for name, sampler in SAMPLER_SCHEDULERS.items():
        cls = getattr(diffusers, sampler.scheduler)
        init = inspect.signature(cls.__init__).parameters
        if sampler.schedules == "sigmas":
            assert "sigmas" in inspect.signature(cls.set_timesteps).parameters, name
        if sampler.schedules != "own":
            assert "timestep_spacing" in init, name
            assert sampler.flags == all(flag in init for flag in FLAGS.values()), name


@pytest.mark.parametrize("name, expected", [
    ("DPM++ 2M", ("DPM++ 2M", None)), ("DPM++ 2M Karras", ("DPM++ 2M", "Karras")),
    ("Euler a karras", ("Euler a", "Karras")), ("DPM++ SDE SGM Uniform", ("DPM++ SDE", "SGM Uniform")),
    ("Euler SGMUniform", ("Euler", "SGM Uniform")), ("Euler kl_optimal", ("Euler", "KL Optimal")),
    ("Restart", None), ("Euler Fancy", None), ("Karras", None),
])
def test_sampler_names_with_a_schedule_folded_in(name, expected):
    assert split_sampler(name) == expected


def test_fused_names_and_schedule_types_go_together_or_conflict():
    assert resolve_schedule("DPM++ 2M Karras", "Automatic") == ("DPM++ 2M", "Karras")
    assert resolve_schedule("DPM++ 2M Karras", "karras") == ("DPM++ 2M", "Karras")
    with pytest.raises(ValueError, match="conflicts with schedule type Exponential"):
        resolve_schedule("DPM++ 2M Karras", "Exponential")
    assert schedule_problem("Euler a", "Karras").startswith("sampler Euler a does not support schedule type Karras")
    assert schedule_problem("DPM++ 2M", "KL Optimal").startswith("sampler DPM++ 2M does not support")
    assert schedule_problem("LCM", "SGM Uniform").startswith("sampler LCM does not support")
    assert schedule_problem("Euler", "SGM Uniform") is None and schedule_problem("DPM++ SDE", "SGM Uniform") is None
    assert all(schedule_problem(name, "Automatic") is None for name in SAMPLER_NAMES)
    with pytest.raises(ValueError, match="does not support"):
        make_scheduler("Euler a", SD15, [0], "Karras")


def test_pasted_sampler_and_schedule_type():
    assert pasted_schedule("DPM++ 2M", "Karras") == ("DPM++ 2M", "Karras")
    assert pasted_schedule("DPM++ 2M Karras", None) == ("DPM++ 2M", "Karras")
    assert pasted_schedule("Euler a", None) == ("Euler a", "Automatic")
    assert pasted_schedule("Euler", "SGMUniform") == ("Euler", "SGM Uniform")
    assert pasted_schedule("Restart", "Karras") is None and pasted_schedule("Euler", "Turbo") is None
