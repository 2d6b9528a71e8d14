"""The API's defaults that A1111 keeps as options (D39): checkpoint, VAE, and the render parameters that A1111 sets
through options (engine/parameters.py: `A1111(option=...)`, e.g. CLIP_stop_at_last_layers); stored in the database
(the `metadata` table), so every process and every restart sees the same."""

from __future__ import annotations

import json

from core.jsondata import integral
from engine.parameters import A1111_OPTIONS
from system_app.models import SystemFact

from . import catalogue
from .errors import A1111Error

FACT_KEY = "a1111.options"
VAE_AUTOMATIC, VAE_NONE = "Automatic", "None"


def stored() -> dict:
    """{"checkpoint": hash | None, "vae": hash | None, and each option's render parameter by its name}."""
    fact = SystemFact.objects.filter(key=FACT_KEY).first()
    values = json.loads(fact.value) if fact and fact.value else {}
    return {"checkpoint": values.get("checkpoint"), "vae": values.get("vae"),
            **{p.name: values.get(p.name, p.a1111.default) for p in A1111_OPTIONS.values()}}


def save(values: dict) -> None:
    SystemFact.objects.update_or_create(key=FACT_KEY, defaults={
        "value": json.dumps(values), "type": "json", "description": "Defaults of the A1111-compatible API (D39)"})


def current_checkpoint(values: dict):
    """The checkpoint the API renders with: the stored one while it is ready, else the first ready one."""
    model = catalogue.ready("checkpoint").filter(hash=values["checkpoint"]).first() if values["checkpoint"] else None
    return model or catalogue.ready("checkpoint").first()


def current_vae(values: dict):
    return catalogue.ready("vae").filter(hash=values["vae"]).first() if values["vae"] else None


def checkpoint_named(value):
    model = catalogue.find_model(value, "checkpoint")
    if model is None:
        raise A1111Error(404, f"model {value!r} not found", "RuntimeError")
    return model


def vae_named(value):
    """None for A1111's "Automatic" / "None" (the checkpoint's own VAE), else a ready VAE."""
    if value in (VAE_AUTOMATIC, VAE_NONE, None, ""):
        return None
    model = catalogue.find_model(value, "vae")
    if model is None:
        raise A1111Error(404, f"VAE {value!r} not found", "RuntimeError")
    return model


def option_value(option: str, value) -> int:
    """The value of a render parameter's A1111 option (an integer parameter), checked against its limits."""
    parameter = A1111_OPTIONS[option]
    value = integral(value)
    if value is None or not parameter.low <= value <= parameter.high:
        raise A1111Error(422, f"{option} must be an integer from {parameter.low} to {parameter.high}", "ValueError")
    return value


def apply(changes: dict) -> None:
    """POST /options: the keys we keep are checked and stored; A1111 ignores keys it does not know, so do we."""
    values = stored()
    if "sd_model_checkpoint" in changes:
        values["checkpoint"] = checkpoint_named(changes["sd_model_checkpoint"]).hash
    if "sd_vae" in changes:
        vae = vae_named(changes["sd_vae"])
        values["vae"] = vae.hash if vae else None
    for option, parameter in A1111_OPTIONS.items():
        if option in changes:
            values[parameter.name] = option_value(option, changes[option])
    save(values)


def as_a1111() -> dict:
    """GET /options: the options A1111 clients read (its names and formats)."""
    values = stored()
    checkpoint, vae = current_checkpoint(values), current_vae(values)
    return {
        "sd_model_checkpoint": catalogue.title(checkpoint) if checkpoint else None,
        "sd_checkpoint_hash": checkpoint.hash if checkpoint else None,
        "sd_vae": catalogue.file_name(vae) if vae else VAE_AUTOMATIC,
        **{option: values[parameter.name] for option, parameter in A1111_OPTIONS.items()},
        "samples_format": "png", "grid_format": "png", "return_grid": False, "enable_pnginfo": True,
        "sd_checkpoint_cache": 0, "sd_vae_checkpoint_cache": 0,
    }
