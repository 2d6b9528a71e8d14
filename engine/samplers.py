"""WebUI sampler names (D8, `a1111/names.py`) mapped to diffusers schedulers.

Timestep spacing: the k-diffusion samplers WebUI uses (Euler, DPM++, LMS, Heun, DPM2, UniPC) discretise the
schedule as `linspace(999, 0, steps)`, which is diffusers' "linspace" spacing (first sigma 14.6 on SD1.5 at any
step count); WebUI's DDIM and PLMS are the original CompVis samplers with "leading" spacing and offset 1.
"""

from .a1111.names import SAMPLER_NAMES

_K_DIFFUSION = {"timestep_spacing": "linspace", "steps_offset": 1}  # offset unused by linspace
_COMPVIS = {"timestep_spacing": "leading", "steps_offset": 1}
_DPMPP_2M = {"algorithm_type": "dpmsolver++", "solver_order": 2}
_DPMPP_2M_SDE = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}
_KARRAS = {"use_karras_sigmas": True}

# name -> (diffusers scheduler class name, config overrides)
_SCHEDULERS = {
    "Euler": ("EulerDiscreteScheduler", _K_DIFFUSION),
    "Euler a": ("EulerAncestralDiscreteScheduler", _K_DIFFUSION),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {**_K_DIFFUSION, **_DPMPP_2M}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {**_K_DIFFUSION, **_DPMPP_2M, **_KARRAS}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {**_K_DIFFUSION, **_DPMPP_2M_SDE}),
    "DPM++ 2M SDE Karras": ("DPMSolverMultistepScheduler", {**_K_DIFFUSION, **_DPMPP_2M_SDE, **_KARRAS}),
    "DPM++ SDE": ("DPMSolverSDEScheduler", _K_DIFFUSION),
    "DPM++ SDE Karras": ("DPMSolverSDEScheduler", {**_K_DIFFUSION, **_KARRAS}),
    "DDIM": ("DDIMScheduler", {**_COMPVIS, "set_alpha_to_one": False, "clip_sample": False}),
    "UniPC": ("UniPCMultistepScheduler", _K_DIFFUSION),
    "LMS": ("LMSDiscreteScheduler", _K_DIFFUSION),
    "Heun": ("HeunDiscreteScheduler", _K_DIFFUSION),
    "DPM2": ("KDPM2DiscreteScheduler", _K_DIFFUSION),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", _K_DIFFUSION),
    "PLMS": ("PNDMScheduler", {**_COMPVIS, "skip_prk_steps": True, "set_alpha_to_one": False}),
}
assert list(_SCHEDULERS) == SAMPLER_NAMES


def make_scheduler(name: str, base_config: dict, seeds: list[int]):
    """A fresh scheduler for sampler `name` on the model's noise schedule `base_config`.

    `seeds` (one per image) seed the Brownian tree of the DPM++ SDE sampler, whose noise does not come from the
    pipeline's generators.
    """
    import diffusers

    try:
        class_name, overrides = _SCHEDULERS[name]
    except KeyError:
        raise ValueError(f"Unknown sampler {name!r}; supported: {', '.join(SAMPLER_NAMES)}") from None
    cls = getattr(diffusers, class_name)
    overrides = dict(overrides)
    if class_name == "DPMSolverSDEScheduler":
        overrides["noise_sampler_seed"] = list(seeds)
    config = {k: v for k, v in base_config.items() if not k.startswith("_")}
    return cls.from_config({**config, **overrides})
