"""The library as A1111 lists it: titles `name.safetensors [autov2]`, AutoV2 hashes, file paths; and the
reverse, a checkpoint / VAE / upscaler named the ways A1111 clients name them."""

from __future__ import annotations

import re

from engine.a1111.names import AUTOMATIC_SCHEDULES, SAMPLERS, SCHEDULER_ALIASES, SCHEDULERS, UPSCALER_NAMES
from engine.schedules import KARRAS_RHO, POLYEXPONENTIAL_RHO
from models_app.inspect import tensor_shapes
from models_app.models import SDModel
from models_app.storage import model_file_path
from tasks_app.api.parameters import model_by_autov2, model_by_name

TITLE = re.compile(r"^(?P<name>.*?)\s*\[(?P<digest>[0-9a-fA-F]{8,64})\]$")
FULL_HASH = re.compile(r"[0-9a-fA-F]{64}")


def autov2(model: SDModel) -> str:
    return model.hash[:10]


def file_name(model: SDModel) -> str:
    return f"{model.name}{model.file_ext}"


def title(model: SDModel) -> str:
    """A1111's checkpoint title: `name.safetensors [autov2]`."""
    return f"{file_name(model)} [{autov2(model)}]"


def ready(kind: str):
    return SDModel.objects.filter(model_type=kind, status="ready").order_by("name", "hash")


def find_model(value, kind: str) -> SDModel | None:
    """A ready model of `kind` named by A1111 title, file name, name, AutoV2 or full SHA256; None if unknown or
    ambiguous."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    match = TITLE.fullmatch(value)
    if match:
        return model_by_autov2(match["digest"][:10], (kind,)) or model_by_name(match["name"], kind)
    if FULL_HASH.fullmatch(value):
        return ready(kind).filter(hash=value.lower()).first()
    return model_by_name(value, kind) or model_by_autov2(value, (kind,))


def sd_models() -> list[dict]:
    return [{"title": title(m), "model_name": m.name, "hash": autov2(m), "sha256": m.hash,
             "filename": str(model_file_path(m)), "config": None} for m in ready("checkpoint")]


def sd_vaes() -> list[dict]:
    return [{"model_name": file_name(m), "filename": str(model_file_path(m))} for m in ready("vae")]


def loras() -> list[dict]:
    return [{"name": m.name, "alias": m.name, "path": str(model_file_path(m)),
             "metadata": {"ss_sd_model_name": m.base_model} if m.base_model else {}} for m in ready("lora")]


def embeddings() -> dict:
    """A1111's EmbeddingsResponse: each embedding under its prompt token, its vectors' count and width read from
    the file's tensor shapes (the first 2-D tensor: `emb_params`, `string_to_param.*`, `clip_l`)."""
    loaded = {}
    for model in ready("embedding"):
        words = (model.metadata or {}).get("trigger_words") or []
        token = words[0] if isinstance(words, list) and words and isinstance(words[0], str) else model.name
        vectors, shape = _embedding_size(model)
        loaded[token] = {"step": None, "sd_checkpoint": None, "sd_checkpoint_name": None, "shape": shape,
                         "vectors": vectors}
    return {"loaded": loaded, "skipped": {}}


def _embedding_size(model: SDModel) -> tuple[int, int]:
    try:
        shapes, _ = tensor_shapes(model_file_path(model), model.file_ext)
    except Exception:  # a file gone or unreadable still lists the embedding
        return 0, 0
    matrices = [tuple(shape) for shape in shapes.values() if len(shape) == 2]
    return matrices[0] if matrices else (0, 0)


def samplers() -> list[dict]:
    """A1111 1.9+'s list: the samplers without folded-in schedules, `options.scheduler` their Automatic schedule."""
    names = {label: name for name, label in SCHEDULERS}
    return [{"name": sampler, "aliases": [],
             "options": {"scheduler": names[AUTOMATIC_SCHEDULES[sampler]]} if sampler in AUTOMATIC_SCHEDULES else {}}
            for sampler in SAMPLERS]


# A1111's Scheduler entries: default_rho and need_inner_model as its modules/sd_schedulers.py declares them
_RHO = {"karras": KARRAS_RHO, "polyexponential": POLYEXPONENTIAL_RHO}
_INNER_MODEL = {"uniform", "sgm_uniform", "simple", "normal", "ddim", "beta"}


def schedulers() -> list[dict]:
    return [{"name": name, "label": label,
             "aliases": [alias for alias, of in SCHEDULER_ALIASES.items() if of == label] or None,
             "default_rho": _RHO.get(name, -1), "need_inner_model": name in _INNER_MODEL}
            for name, label in SCHEDULERS]


def upscalers() -> list[dict]:
    listed = [{"name": "None", "model_name": None, "model_path": None, "model_url": None, "scale": 4},
              {"name": "Lanczos", "model_name": None, "model_path": None, "model_url": None, "scale": 4}]
    listed += [{"name": m.name, "model_name": m.name, "model_path": str(model_file_path(m)), "model_url": None,
                "scale": 4} for m in ready("upscaler")]
    return listed


def latent_upscale_modes() -> list[dict]:
    return [{"name": name} for name in UPSCALER_NAMES if name.startswith("Latent")]
