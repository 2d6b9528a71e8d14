"""What the render engine is given for a task: its ModelFiles, its RenderRequest, and its batch signature.

The signature (`batch_signature`) is computed when the task is submitted and stored on its row, so a claim
compares stored strings (SQL plus the pure scheduler) instead of building requests inside the claiming
transaction.
"""

from __future__ import annotations

import hashlib

from engine.engine import batch_key
from engine.interface import ControlNetSpec, EmbeddingSpec, LoraSpec, ModelFile, RenderRequest, random_seed
from engine.parameters import RENDER_PARAMETERS
from images_app.storage import image_file_path
from models_app.inspect import prediction_settings
from models_app.storage import usable_model_file

from .image_inputs import engine_inputs

SIGNATURE_LENGTH = 64


def model_file(model) -> ModelFile:
    """The engine's ModelFile for a library model (ModelFileUnavailable: an in-place file gone or changed); a
    checkpoint carries its metadata's prediction settings (the engine reads the file where they are unset)."""
    prediction_type, zero_terminal_snr = prediction_settings(model.metadata) if model.model_type == "checkpoint" \
        else (None, None)
    return ModelFile(
        path=str(usable_model_file(model)), sha256=model.hash, name=model.name, kind=model.model_type,
        base_model=model.base_model, prediction_type=prediction_type, zero_terminal_snr=zero_terminal_snr,
    )


def build_request(task) -> RenderRequest:
    """The engine's RenderRequest for a task (seed -1 resolved, model files located)."""
    loras, embeddings, controlnets = [], [], []
    for extra in task.task_models.select_related("model", "control_image").order_by("position"):
        model = extra.model
        weight = 1.0 if extra.weight is None else extra.weight
        if model.model_type == "lora":
            loras.append(LoraSpec(model_file(model), weight=weight))
        elif model.model_type == "embedding":
            words = (model.metadata or {}).get("trigger_words") or []
            token = words[0] if isinstance(words, list) and words and isinstance(words[0], str) else model.name
            embeddings.append(EmbeddingSpec(model_file(model), token=token))
        elif model.model_type == "controlnet":
            if extra.control_image is None:
                raise ValueError(f"The control image of ControlNet {model.name} no longer exists")
            controlnets.append(
                ControlNetSpec(model_file(model), str(image_file_path(extra.control_image)), weight=weight)
            )
    parameters = {parameter.name: getattr(task, parameter.name) for parameter in RENDER_PARAMETERS}
    parameters.update(negative_prompt=task.negative_prompt or "",
                      seed=task.seed if task.seed is not None and task.seed >= 0 else random_seed())
    return RenderRequest(
        checkpoint=model_file(task.checkpoint), vae=model_file(task.vae) if task.vae else None,
        loras=tuple(loras), embeddings=tuple(embeddings), controlnets=tuple(controlnets),
        **parameters, **engine_inputs(task, model_file),
    )


def batch_signature(task) -> str | None:
    """A digest of what must be equal for tasks to render in one pipeline call (engine.batch_key); None: the
    task is never merged (an upscale task, or one whose request cannot be built: it fails when it runs alone)."""
    if task.kind != "render":
        return None
    try:
        key = batch_key(build_request(task))
    except Exception:
        return None
    return hashlib.sha256(repr(key).encode()).hexdigest()[:SIGNATURE_LENGTH]
