"""Validation of POST /api/tasks bodies (tasks-api.md, D9, D17, D23, D26, D30).

`validate_submission(body)` checks every field and returns what tasks_app.queue.submit needs;
the first problem is raised as a 400 `invalid_request` whose `source.pointer` names the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.conf import settings

from images_app.models import Image
from models_app.models import SDModel
from sdhost.commands import json_pointer
from sdhost.errors import invalid_request
from system_app.tags import tag_name_problem
from tasks_app.engine.samplers import SAMPLER_NAMES
from tasks_app.image_inputs import IMAGE_KEYS, validate_image_fields

TOP_LEVEL_KEYS = {
    "checkpoint_hash", "prompt", "negative_prompt", "width", "height", "steps", "cfg_scale", "seed",
    "batch_size", "sampler", "vae_hash", "additional_models", "tags",
} | IMAGE_KEYS
EXTRA_KEYS = {"model_hash", "weight", "control_image"}
EXTRA_TYPES = ("lora", "controlnet", "embedding")
MIN_SIDE, SIDE_STEP = 64, 8
MAX_STEPS = 200
MAX_CFG_SCALE = 30
MAX_SEED = 2**63 - 10  # image i uses seed + i, which must fit a signed 64-bit column
MAX_WEIGHT = 2.0


@dataclass
class Submission:
    fields: dict  # Task constructor arguments
    extras: list = field(default_factory=list)  # (SDModel, weight, Image | None)
    tag_names: list = field(default_factory=list)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _integer(body, key, default, low, high, rule):
    value = body.get(key, default)
    if not is_int(value):
        raise invalid_request(f"'{key}' must be an integer", json_pointer(key))
    if not low <= value <= high:
        raise invalid_request(f"'{key}' must be {rule}", json_pointer(key))
    return value


def _string(body, key, default=None, *, required=False):
    if required and key not in body:
        raise invalid_request(f"'{key}' is required", json_pointer(key))
    value = body.get(key, default)
    if not isinstance(value, str):
        raise invalid_request(f"'{key}' must be a string", json_pointer(key))
    return value


def compatible(base_a, base_b) -> bool:
    """Base models fit when equal (ignoring case and spacing) or either is blank."""
    norm_a, norm_b = ((b or "").strip().casefold() for b in (base_a, base_b))
    return not norm_a or not norm_b or norm_a == norm_b


def _ready_model(value, pointer, kinds, label):
    if not isinstance(value, str):
        raise invalid_request(f"{label} must be a model hash string", pointer)
    model = SDModel.objects.filter(hash=value).first()
    if model is None:
        raise invalid_request(f"Unknown model {value}", pointer)
    if model.model_type not in kinds:
        raise invalid_request(
            f"Model {value} is a {model.model_type}; {label} must be a {' or '.join(kinds)}", pointer
        )
    if model.status != "ready":
        raise invalid_request(f"Model {value} is not ready (status: {model.status})", pointer)
    return model


def _check_base(model, checkpoint, pointer):
    if not compatible(model.base_model, checkpoint.base_model):
        raise invalid_request(
            f"Model {model.hash} is for base model {model.base_model}, "
            f"the checkpoint for {checkpoint.base_model}", pointer,
        )


def _extras(body, checkpoint):
    entries = body.get("additional_models", [])
    if not isinstance(entries, list):
        raise invalid_request("'additional_models' must be an array", json_pointer("additional_models"))
    extras, seen = [], set()
    for index, entry in enumerate(entries):
        at = lambda *parts: json_pointer("additional_models", index, *parts)  # noqa: E731
        if not isinstance(entry, dict):
            raise invalid_request("Each additional model must be an object", at())
        for key in entry:
            if key not in EXTRA_KEYS:
                raise invalid_request(f"Unknown key '{key}' in an additional model", at(key))
        if "model_hash" not in entry:
            raise invalid_request("'model_hash' is required", at("model_hash"))
        model = _ready_model(entry["model_hash"], at("model_hash"), EXTRA_TYPES, "'model_hash'")
        if model.hash in seen:
            raise invalid_request(f"Model {model.hash} is listed more than once", at("model_hash"))
        seen.add(model.hash)
        _check_base(model, checkpoint, at("model_hash"))
        weight = entry.get("weight", 1.0)
        if not is_number(weight):
            raise invalid_request("'weight' must be a number", at("weight"))
        if not 0.0 <= weight <= MAX_WEIGHT:
            raise invalid_request(f"'weight' must be between 0.0 and {MAX_WEIGHT}", at("weight"))
        control_image = None
        if model.model_type == "controlnet":
            if "control_image" not in entry:
                raise invalid_request("A ControlNet entry needs 'control_image' (an image hash)", at("control_image"))
            value = entry["control_image"]
            if not isinstance(value, str):
                raise invalid_request("'control_image' must be an image hash string", at("control_image"))
            control_image = Image.objects.filter(hash=value).first()
            if control_image is None:
                raise invalid_request(f"Unknown image {value}", at("control_image"))
        elif "control_image" in entry:
            raise invalid_request(
                f"'control_image' is only allowed on ControlNet entries, not on a {model.model_type}",
                at("control_image"),
            )
        extras.append((model, float(weight), control_image))
    return extras


def _tags(body):
    names = body.get("tags", [])
    if not isinstance(names, list):
        raise invalid_request("'tags' must be an array of tag names", json_pointer("tags"))
    for index, name in enumerate(names):
        problem = tag_name_problem(name)
        if problem:
            raise invalid_request(problem, json_pointer("tags", index))
    return names


def validate_submission(body: dict) -> Submission:
    """Check a task submission completely; raise APIError(400) at the first problem."""
    cfg = settings.SDHOST
    for key in body:
        if key not in TOP_LEVEL_KEYS:
            raise invalid_request(f"Unknown field '{key}'", json_pointer(key))

    if "checkpoint_hash" not in body:
        raise invalid_request("'checkpoint_hash' is required", json_pointer("checkpoint_hash"))
    checkpoint = _ready_model(body["checkpoint_hash"], "/checkpoint_hash", ("checkpoint",), "'checkpoint_hash'")

    prompt = _string(body, "prompt", required=True)
    if not prompt.strip():
        raise invalid_request("'prompt' must not be empty", "/prompt")
    negative_prompt = _string(body, "negative_prompt", "")

    max_side = cfg["MAX_IMAGE_SIDE"]
    width, height = (
        _integer(body, key, 512, MIN_SIDE, max_side, f"a multiple of {SIDE_STEP} from {MIN_SIDE} to {max_side}")
        for key in ("width", "height")
    )
    for key, value in (("width", width), ("height", height)):
        if value % SIDE_STEP:
            raise invalid_request(f"'{key}' must be a multiple of {SIDE_STEP} from {MIN_SIDE} to {max_side}", json_pointer(key))
    steps = _integer(body, "steps", cfg["DEFAULT_STEPS"], 1, MAX_STEPS, f"from 1 to {MAX_STEPS}")

    cfg_scale = body.get("cfg_scale", cfg["DEFAULT_CFG_SCALE"])
    if not is_number(cfg_scale):
        raise invalid_request("'cfg_scale' must be a number", "/cfg_scale")
    if not 0 < cfg_scale <= MAX_CFG_SCALE:
        raise invalid_request(f"'cfg_scale' must be greater than 0 and at most {MAX_CFG_SCALE}", "/cfg_scale")

    seed = body.get("seed", -1)
    if not is_int(seed):
        raise invalid_request("'seed' must be an integer", "/seed")
    if seed != -1 and not 0 <= seed <= MAX_SEED:
        raise invalid_request(f"'seed' must be -1 (random) or from 0 to {MAX_SEED}", "/seed")

    max_batch = cfg["MAX_BATCH_SIZE"]
    batch_size = _integer(body, "batch_size", 1, 1, max_batch, f"from 1 to {max_batch} (the configured max_batch_size)")

    sampler = _string(body, "sampler", "DPM++ 2M Karras")
    if sampler not in SAMPLER_NAMES:
        raise invalid_request(f"Unknown sampler '{sampler}'; supported: {', '.join(SAMPLER_NAMES)}", "/sampler")

    vae = None
    if body.get("vae_hash") is not None:
        vae = _ready_model(body["vae_hash"], "/vae_hash", ("vae",), "'vae_hash'")
        _check_base(vae, checkpoint, "/vae_hash")

    extras = _extras(body, checkpoint)
    image_fields = validate_image_fields(body, width, height)
    tag_names = _tags(body)
    return Submission(
        fields={
            "checkpoint": checkpoint, "prompt": prompt, "negative_prompt": negative_prompt,
            "width": width, "height": height, "steps": steps, "cfg_scale": float(cfg_scale), "seed": seed,
            "batch_size": batch_size, "sampler": sampler, "vae": vae, **image_fields,
        },
        extras=extras,
        tag_names=tag_names,
    )
