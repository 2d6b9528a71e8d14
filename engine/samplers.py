"""A1111's samplers and schedule types (`a1111/names.py`) mapped to diffusers schedulers.

Timestep spacing: the k-diffusion samplers WebUI uses (Euler, DPM++, LMS, Heun, DPM2, UniPC) discretise the
schedule as `linspace(999, 0, steps)`, which is diffusers' "linspace" spacing (first sigma 14.6 on SD1.5 at any
step count); WebUI's DDIM and PLMS are the original CompVis samplers with "leading" spacing and offset 1. LCM is
diffusers' LCMScheduler (50 original steps, timestep scaling 10: A1111's LCM sampler's constants).

Schedule types (docs/rendering.md "Samplers and schedule types"), per sampler as `Sampler.schedules` says:
- "sigmas" (Euler, the one diffusers scheduler that takes custom sigmas for every model): every schedule type.
  Karras, Exponential and Beta are diffusers' options (`use_karras_sigmas`, ...: the same values as A1111's); the
  others, and Automatic (A1111: the model's uniform sigmas), are A1111's sigmas as `schedules.py` computes them,
  handed to `set_timesteps(sigmas=...)` for the render's step count.
- "options": Automatic, and the schedule types diffusers has as scheduler options: Uniform ("linspace"
  spacing, where it is A1111's: not DPMSolverMultistep's), SGM Uniform and Simple ("trailing" spacing, timesteps rounded to integers), and Karras, Exponential
  and Beta where the scheduler has the `use_*_sigmas` option (`flags`).
- "own": only the sampler's own schedule (Automatic): A1111 ignores the schedule type for DDIM, PLMS and UniPC (its
  timestep samplers), and LCM keeps its own 50-step grid.
Any other combination is refused at submission (`schedule_problem`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .a1111.names import AUTOMATIC_SCHEDULES, DEFAULT_SCHEDULER, SAMPLERS, SCHEDULE_LABELS, resolve_schedule
from .prediction import Prediction, scheduler_overrides
from .schedules import schedule_sigmas, training_sigmas

_K_DIFFUSION = {"timestep_spacing": "linspace", "steps_offset": 1}  # offset unused by linspace
_COMPVIS = {"timestep_spacing": "leading", "steps_offset": 1}
_DPMPP_2M = {"algorithm_type": "dpmsolver++", "solver_order": 2}
_DPMPP_2M_SDE = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}

# schedule label -> the diffusers option that gives its sigmas
FLAGS = {"Karras": "use_karras_sigmas", "Exponential": "use_exponential_sigmas", "Beta": "use_beta_sigmas"}
SPACINGS = {"Uniform": "linspace", "SGM Uniform": "trailing", "Simple": "trailing"}


@dataclass(frozen=True)
class Sampler:
    scheduler: str              # diffusers scheduler class
    config: dict                # its configuration over the model's noise schedule
    schedules: str = "options"  # "sigmas" | "options" | "own" (the module's docstring)
    flags: bool = True          # takes use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas
    uniform: bool = True        # its "linspace" spacing is A1111's Uniform (DPMSolverMultistep's drops the last
                                # of n + 1 timesteps instead: that is no schedule type of A1111's)

    def supports(self, label: str) -> bool:
        if label == DEFAULT_SCHEDULER or self.schedules == "sigmas":
            return True
        if self.schedules == "own":
            return False
        if label == "Uniform":
            return self.uniform
        return label in SPACINGS or (self.flags and label in FLAGS)


SAMPLER_SCHEDULERS = {
    "Euler": Sampler("EulerDiscreteScheduler", _K_DIFFUSION, "sigmas"),
    "Euler a": Sampler("EulerAncestralDiscreteScheduler", _K_DIFFUSION, flags=False),
    "DPM++ 2M": Sampler("DPMSolverMultistepScheduler", {**_K_DIFFUSION, **_DPMPP_2M}, uniform=False),
    "DPM++ 2M SDE": Sampler("DPMSolverMultistepScheduler", {**_K_DIFFUSION, **_DPMPP_2M_SDE}, uniform=False),
    "DPM++ 2M SDE Heun": Sampler("DPMSolverMultistepScheduler", {**_K_DIFFUSION, **_DPMPP_2M_SDE,
                                                                 "solver_type": "heun"}, uniform=False),
    "DPM++ SDE": Sampler("DPMSolverSDEScheduler", _K_DIFFUSION),
    "DDIM": Sampler("DDIMScheduler", {**_COMPVIS, "set_alpha_to_one": False, "clip_sample": False}, "own"),
    "UniPC": Sampler("UniPCMultistepScheduler", _K_DIFFUSION, "own"),
    "LMS": Sampler("LMSDiscreteScheduler", _K_DIFFUSION),
    "Heun": Sampler("HeunDiscreteScheduler", _K_DIFFUSION),
    "DPM2": Sampler("KDPM2DiscreteScheduler", _K_DIFFUSION),
    "DPM2 a": Sampler("KDPM2AncestralDiscreteScheduler", _K_DIFFUSION),
    "PLMS": Sampler("PNDMScheduler", {**_COMPVIS, "skip_prk_steps": True, "set_alpha_to_one": False}, "own"),
    "LCM": Sampler("LCMScheduler", {}, "own"),
}
assert list(SAMPLER_SCHEDULERS) == SAMPLERS


def supported_schedules(sampler: str) -> list[str]:
    """The schedule type labels sampler `sampler` (a name of SAMPLERS) renders."""
    return [label for label in SCHEDULE_LABELS if SAMPLER_SCHEDULERS[sampler].supports(label)]


def schedule_problem(sampler, scheduler) -> str | None:
    """Why a task's `sampler` and `scheduler` cannot render together (an unknown name, a fused sampler name whose
    schedule conflicts, a schedule type the sampler does not take), or None."""
    try:
        base, label = resolve_schedule(sampler, scheduler)
    except ValueError as exc:
        return str(exc)
    if not SAMPLER_SCHEDULERS[base].supports(label):
        return (f"sampler {base} does not support schedule type {label}; with {base} use: "
                f"{', '.join(supported_schedules(base))}")
    return None


def make_scheduler(name: str, base_config: dict, seeds: list[int], scheduler: str = DEFAULT_SCHEDULER,
                   family: str = "sd15", prediction: Prediction | None = None):
    """A fresh diffusers scheduler for sampler `name` with schedule type `scheduler` on the model's noise schedule
    `base_config` (`family` picks Align Your Steps' table), for a model that predicts as `prediction` says
    (v-prediction, zero terminal SNR: engine/prediction.py; the default: epsilon).

    `seeds` (one per image) seed the Brownian tree of the DPM++ SDE sampler, whose noise does not come from the
    pipeline's generators. ValueError when the two do not go together (`schedule_problem`).
    """
    import diffusers

    if problem := schedule_problem(name, scheduler):
        raise ValueError(problem)
    base, label = resolve_schedule(name, scheduler)
    sampler = SAMPLER_SCHEDULERS[base]
    if label == DEFAULT_SCHEDULER:
        label = AUTOMATIC_SCHEDULES.get(base, DEFAULT_SCHEDULER)
        if label == DEFAULT_SCHEDULER and sampler.schedules == "sigmas":
            label = "Uniform"  # A1111's k-diffusion samplers without a default: the model's own sigmas
    cls = getattr(diffusers, sampler.scheduler)
    overrides = dict(sampler.config)
    written = None
    if label in FLAGS and sampler.flags:
        overrides[FLAGS[label]] = True
    elif sampler.schedules == "sigmas" and label != DEFAULT_SCHEDULER:
        cls, written = _with_written_sigmas(cls), (label, family)
    elif label in SPACINGS:
        overrides["timestep_spacing"] = SPACINGS[label]
    if sampler.scheduler == "DPMSolverSDEScheduler":
        overrides["noise_sampler_seed"] = list(seeds)
    config = {k: v for k, v in base_config.items() if not k.startswith("_")}
    config = {**config, **overrides}
    if prediction is not None:
        config.update(scheduler_overrides(prediction, config))
    made = cls.from_config(config)
    if written is not None:
        made.written_schedule = written
    return made


@cache
def _with_written_sigmas(cls):
    """`cls` (a diffusers scheduler whose set_timesteps takes `sigmas`) that sets A1111's sigmas for its
    `written_schedule` (label, family) at each set_timesteps(n): the pipeline's call, img2img's and a hires pass's
    alike."""

    class WrittenSigmas(cls):
        written_schedule: tuple[str, str] | None = None

        def set_timesteps(self, num_inference_steps=None, device=None, timesteps=None, sigmas=None, **kwargs):
            if self.written_schedule is not None and timesteps is None and sigmas is None:
                label, family = self.written_schedule
                training = training_sigmas(self.alphas_cumprod.numpy())
                sigmas = schedule_sigmas(label, num_inference_steps, training, family).tolist()
                num_inference_steps = None
            super().set_timesteps(num_inference_steps, device=device, timesteps=timesteps, sigmas=sigmas, **kwargs)

    WrittenSigmas.__name__ = WrittenSigmas.__qualname__ = f"{cls.__name__}WithWrittenSigmas"
    return WrittenSigmas
