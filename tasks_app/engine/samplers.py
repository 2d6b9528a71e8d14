"""WebUI sampler names (D8) mapped to diffusers schedulers."""

SAMPLER_NAMES = [
    "Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DPM++ 2M SDE", "DPM++ 2M SDE Karras",
    "DPM++ SDE", "DPM++ SDE Karras", "DDIM", "UniPC", "LMS", "Heun", "DPM2", "DPM2 a", "PLMS",
]
