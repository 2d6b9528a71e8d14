"""A1111's names for samplers, schedule types and built-in upscalers (D8, D37, D39), and what we render for them.

Our sampler names are WebUI's pre-1.9 names, the schedule folded into the name ("DPM++ 2M Karras"); A1111 1.9+
writes the schedule apart (`Schedule type: Karras`) and its API takes it as `scheduler`. `sampler_name` turns
either spelling into ours. `engine/samplers.py` maps each of our names to a diffusers scheduler.
"""

SAMPLER_NAMES = [
    "Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DPM++ 2M SDE", "DPM++ 2M SDE Karras",
    "DPM++ SDE", "DPM++ SDE Karras", "DDIM", "UniPC", "LMS", "Heun", "DPM2", "DPM2 a", "PLMS",
]
DEFAULT_SAMPLER = "DPM++ 2M Karras"

# A1111's schedule types (1.9+) we render, (API name, label): the sampler's own schedule and Karras sigmas
SCHEDULERS = [("automatic", "Automatic"), ("karras", "Karras")]
# What "Schedule type: Automatic" means per sampler in A1111 1.9+ (its sampler defaults)
AUTOMATIC_SCHEDULES = {"DPM++ 2M": "Karras", "DPM++ SDE": "Karras", "DPM++ 2M SDE": "Exponential",
                       "DPM++ 2S a": "Karras", "DPM++ 3M SDE": "Exponential"}
SCHEDULE_SUFFIXES = {"Karras": " Karras"}

# Hires fix upscalers without a model (D37): latent ones (A1111's `latent_upscale_modes`, name -> interpolation)
# and pixel ones
LATENT_UPSCALERS = {"Latent": "bilinear", "Latent (nearest-exact)": "nearest-exact"}
PIXEL_UPSCALERS = ("Lanczos",)
UPSCALER_NAMES = (*LATENT_UPSCALERS, *PIXEL_UPSCALERS)
# A1111's built-in upscalers without a model, and what we render for each (its API's `hr_upscaler`)
BUILTIN_UPSCALERS = {"Latent": "Latent", "Latent (nearest-exact)": "Latent (nearest-exact)", "Lanczos": "Lanczos",
                     "Latent (bicubic)": "Latent", "Latent (antialiased)": "Latent",
                     "Latent (bicubic antialiased)": "Latent", "Latent (nearest)": "Latent (nearest-exact)"}


def sampler_name(sampler: str, schedule: str | None) -> str | None:
    """Our sampler name for A1111's `Sampler` (+ `Schedule type` since 1.9), or None when we have none."""
    if schedule == "Automatic":
        schedule = AUTOMATIC_SCHEDULES.get(sampler)
    if schedule is None or sampler.endswith(" Karras"):
        name = sampler
    elif schedule in SCHEDULE_SUFFIXES:
        name = sampler + SCHEDULE_SUFFIXES[schedule]
    else:
        return None
    return name if name in SAMPLER_NAMES else None
