"""A1111's names for samplers, schedule types and built-in upscalers (D8, D37, D39), and what we render for them.

Samplers and schedule types as A1111 1.9+ has them: a sampler name (`DPM++ 2M`) and a schedule type apart
(`Schedule type: Karras`, its API's `scheduler`), looked up by name or label. WebUI's pre-1.9 names with the
schedule folded in (`DPM++ 2M Karras`) stay valid as aliases (`FUSED_SAMPLERS`; `split_sampler` also strips any
trailing schedule name as A1111's `get_sampler_and_scheduler` does). `engine/samplers.py` maps each sampler and
schedule type to a diffusers scheduler.
"""

# A1111 1.9+ sampler names we render (A1111's order where it has them)
SAMPLERS = ["Euler", "Euler a", "DPM++ 2M", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ SDE", "DDIM", "UniPC",
            "LMS", "Heun", "DPM2", "DPM2 a", "PLMS", "LCM"]
# WebUI's pre-1.9 names, the schedule folded in: aliases of (sampler, schedule type)
FUSED_SAMPLERS = {"DPM++ 2M Karras": ("DPM++ 2M", "Karras"), "DPM++ 2M SDE Karras": ("DPM++ 2M SDE", "Karras"),
                  "DPM++ SDE Karras": ("DPM++ SDE", "Karras"), "LMS Karras": ("LMS", "Karras"),
                  "DPM2 Karras": ("DPM2", "Karras"), "DPM2 a Karras": ("DPM2 a", "Karras")}
# Every name a task's `sampler` takes (GET /api/config lists them, D8)
SAMPLER_NAMES = ["Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DPM++ 2M SDE", "DPM++ 2M SDE Karras",
                 "DPM++ SDE", "DPM++ SDE Karras", "DDIM", "UniPC", "LMS", "Heun", "DPM2", "DPM2 a", "PLMS",
                 "DPM++ 2M SDE Heun", "LCM", "LMS Karras", "DPM2 Karras", "DPM2 a Karras"]
DEFAULT_SAMPLER = "DPM++ 2M Karras"

# A1111's schedule types (modules/sd_schedulers.py, 1.10), (API name, label), and its aliases
SCHEDULERS = [("automatic", "Automatic"), ("uniform", "Uniform"), ("karras", "Karras"),
              ("exponential", "Exponential"), ("polyexponential", "Polyexponential"), ("sgm_uniform", "SGM Uniform"),
              ("kl_optimal", "KL Optimal"), ("align_your_steps", "Align Your Steps"), ("simple", "Simple"),
              ("normal", "Normal"), ("ddim", "DDIM"), ("beta", "Beta")]
SCHEDULER_ALIASES = {"SGMUniform": "SGM Uniform"}
SCHEDULE_LABELS = tuple(label for _, label in SCHEDULERS)
DEFAULT_SCHEDULER = "Automatic"
# Every spelling of a schedule type (name, label, alias; any case) -> its label
_SCHEDULE_SPELLINGS = {**{name: label for name, label in SCHEDULERS}, **{label.lower(): label for label in SCHEDULE_LABELS},
                       **{alias.lower(): label for alias, label in SCHEDULER_ALIASES.items()}}
# What "Schedule type: Automatic" means per sampler in A1111 1.10 (its samplers' `scheduler` option); the others
# use their own schedule (the model's uniform sigmas for the k-diffusion samplers)
AUTOMATIC_SCHEDULES = {"DPM++ 2M": "Karras", "DPM++ SDE": "Karras", "DPM++ 2M SDE": "Exponential",
                       "DPM++ 2M SDE Heun": "Exponential", "DPM++ 2S a": "Karras", "DPM++ 3M SDE": "Exponential",
                       "DPM2": "Karras", "DPM2 a": "Karras", "Restart": "Karras"}

# Hires fix upscalers without a model (D37): latent ones (A1111's `latent_upscale_modes`, name -> interpolation)
# and pixel ones
LATENT_UPSCALERS = {"Latent": "bilinear", "Latent (nearest-exact)": "nearest-exact"}
PIXEL_UPSCALERS = ("Lanczos",)
UPSCALER_NAMES = (*LATENT_UPSCALERS, *PIXEL_UPSCALERS)
# A1111's built-in upscalers without a model, and what we render for each (its API's `hr_upscaler`)
BUILTIN_UPSCALERS = {"Latent": "Latent", "Latent (nearest-exact)": "Latent (nearest-exact)", "Lanczos": "Lanczos",
                     "Latent (bicubic)": "Latent", "Latent (antialiased)": "Latent",
                     "Latent (bicubic antialiased)": "Latent", "Latent (nearest)": "Latent (nearest-exact)"}


def schedule_label(value) -> str | None:
    """The label of a schedule type given by name, label or alias (any case), or None."""
    return _SCHEDULE_SPELLINGS.get(value.strip().lower()) if isinstance(value, str) else None


def split_sampler(name: str) -> tuple[str, str | None] | None:
    """(sampler, schedule label or None) for a sampler name, a fused one (`DPM++ 2M Karras`) or a name with any
    schedule type's name or label after a space (A1111's `get_sampler_and_scheduler`); None when we have no such
    sampler."""
    if name in SAMPLERS:
        return name, None
    if name in FUSED_SAMPLERS:
        return FUSED_SAMPLERS[name]
    base, _, suffix = name.rpartition(" ")
    while base:
        label = schedule_label(suffix)
        if label is not None and base in SAMPLERS:
            return base, label
        base, _, more = base.rpartition(" ")
        suffix = f"{more} {suffix}"
    return None


def resolve_schedule(sampler: str, scheduler: str = DEFAULT_SCHEDULER) -> tuple[str, str]:
    """(sampler, schedule label) that a task's `sampler` and `scheduler` ask for: a fused name's schedule applies
    when `scheduler` is Automatic (or the same). ValueError for an unknown name or a conflict."""
    split = split_sampler(sampler)
    label = schedule_label(scheduler)
    if split is None:
        raise ValueError(f"Unknown sampler {sampler!r}; supported: {', '.join(SAMPLER_NAMES)}")
    if label is None:
        raise ValueError(f"Unknown schedule type {scheduler!r}; supported: {', '.join(SCHEDULE_LABELS)}")
    base, fused = split
    if fused is not None and label not in (DEFAULT_SCHEDULER, fused):
        raise ValueError(f"sampler {sampler} already names schedule type {fused}; it conflicts with schedule "
                         f"type {label} (give sampler {base} with schedule type {label})")
    return base, fused or label


def written_schedule(sampler: str, scheduler: str = DEFAULT_SCHEDULER) -> tuple[str, str]:
    """(Sampler, Schedule type) as A1111 1.9+ writes them into the infotext: the sampler without a folded-in
    schedule, and the schedule's label, Automatic resolved to the sampler's default where it has one."""
    base, label = resolve_schedule(sampler, scheduler)
    if label == DEFAULT_SCHEDULER:
        label = AUTOMATIC_SCHEDULES.get(base, DEFAULT_SCHEDULER)
    return base, label


def pasted_schedule(sampler: str, schedule: str | None) -> tuple[str, str] | None:
    """(sampler, scheduler) for a task from an infotext's `Sampler` and `Schedule type` (missing: Automatic, as in
    A1111), or None when we have no such sampler or schedule type. A folded-in schedule wins, as in A1111; the
    schedule type is kept as written (A1111's UI shows its sampler's default as Automatic: the same render)."""
    split = split_sampler(sampler)
    label = DEFAULT_SCHEDULER if schedule is None else schedule_label(schedule)
    if split is None or label is None:
        return None
    base, fused = split
    return base, fused or label
