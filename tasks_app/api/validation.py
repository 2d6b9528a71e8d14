"""POST /api/tasks bodies (tasks-api.md, D9, D17, D23, D26, D30).

`SUBMISSION` lists every field with its type, limits and default: the render parameters come from the engine's
table (engine/parameters.py, one declaration per parameter), the model references, additional models, tags and
image inputs are declared here. `validate_submission(body)` checks a body against it and the OpenAPI component
`TaskSubmission` is generated from it (`submission_schema()`). The first problem is raised as a 400
`invalid_request` whose `source.pointer` names the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.conf import settings

from core.errors import invalid_request, json_pointer
from core.jsondata import integral, is_int
from core.tags import TAG_NAME_MAX, tag_name_problem
from core.text import FREE_TEXT_PATTERN, LABEL_PATTERN, control_character_problem
from engine.parameters import RENDER_PARAMETERS, REQUIRED, Setting
from images_app.models import Image
from models_app.inspect import unrendered_family
from models_app.models import SDModel
from tasks_app.image_inputs import IMAGE_FIELD_SCHEMAS, one_of, unknown_model, validate_image_fields, with_article

from .inline_loras import inline_loras

EXTRA_KEYS = {"model_hash", "weight", "control_image"}
EXTRA_TYPES = ("lora", "controlnet", "embedding")
MAX_WEIGHT = 2.0


def resolve(value):
    """A limit or default: a Setting is read from SDHOST when used (so tests and deployments can change it)."""
    return settings.SDHOST[value.name] if isinstance(value, Setting) else value


@dataclass
class Submission:
    fields: dict  # Task constructor arguments
    extras: list = field(default_factory=list)  # (SDModel, weight, Image | None)
    tag_names: list = field(default_factory=list)


def is_number(value) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


# --- field types ---------------------------------------------------------------------------------

class Field:
    """One body field: `clean(value, key, cleaned)` returns its value or raises a 400; `cleaned` holds the
    values of the fields declared before it."""

    def __init__(self, *, default=None, description=None):
        self.default = default
        self.description = description

    def value(self, body, key, cleaned):
        if key not in body and self.default is REQUIRED:
            raise invalid_request(f"'{key}' is required", json_pointer(key))
        return self.clean(body.get(key, resolve(self.default)), key, cleaned)

    def clean(self, value, key, cleaned):
        return value

    def schema(self) -> dict:
        schema = self.base_schema()
        default = resolve(self.default)
        if default is not REQUIRED and default is not None and not isinstance(self.default, Setting):
            schema["default"] = default
        if self.description:
            schema["description"] = self.description
        return schema

    def base_schema(self) -> dict:
        raise NotImplementedError


class Integer(Field):
    def __init__(self, low, high, rule, *, multiple_of=None, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high, self.rule, self.multiple_of = low, high, rule, multiple_of

    def clean(self, value, key, cleaned):
        value = integral(value)  # 512.0 is the integer 512 (JSON Schema, so OpenAPI 3.1)
        if value is None:
            raise invalid_request(f"'{key}' must be an integer", json_pointer(key))
        high = resolve(self.high)
        if not resolve(self.low) <= value <= high or (self.multiple_of and value % self.multiple_of):
            raise invalid_request(f"'{key}' must be {self.rule.format(high=high)}", json_pointer(key))
        return value

    def base_schema(self):
        schema = {"type": "integer", "minimum": resolve(self.low), "maximum": resolve(self.high)}
        if self.multiple_of:
            schema["multipleOf"] = self.multiple_of
        return schema


class Seed(Field):
    """-1 (random) or a seed from 0 to `high`."""

    def __init__(self, high, **kwargs):
        super().__init__(**kwargs)
        self.high = high

    def clean(self, value, key, cleaned):
        value = integral(value)
        if value is None:
            raise invalid_request(f"'{key}' must be an integer", json_pointer(key))
        if value != -1 and not 0 <= value <= self.high:
            raise invalid_request(f"'{key}' must be -1 (random) or from 0 to {self.high}", json_pointer(key))
        return value

    def base_schema(self):
        return {"type": "integer", "format": "int64", "minimum": -1, "maximum": self.high}


class Number(Field):
    """A finite number greater than 0 and at most `high`."""

    def __init__(self, high, **kwargs):
        super().__init__(**kwargs)
        self.high = high

    def clean(self, value, key, cleaned):
        if not is_number(value):
            raise invalid_request(f"'{key}' must be a number", json_pointer(key))
        if not 0 < value <= self.high:
            raise invalid_request(f"'{key}' must be greater than 0 and at most {self.high}", json_pointer(key))
        return float(value)

    def base_schema(self):
        return {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": self.high}


class Text(Field):
    def __init__(self, *, non_empty=False, choices=None, aliases=None, check=None, max_length=None, **kwargs):
        super().__init__(**kwargs)
        self.non_empty, self.choices, self.max_length = non_empty, choices, max_length
        self.aliases, self.check = aliases or {}, check

    def clean(self, value, key, cleaned):
        if not isinstance(value, str):
            raise invalid_request(f"'{key}' must be a string", json_pointer(key))
        if self.max_length is not None and len(value) > self.max_length:
            raise invalid_request(f"'{key}' is {len(value):,} characters long; at most {self.max_length:,} are allowed",
                                  json_pointer(key))
        if self.non_empty and not value.strip():
            raise invalid_request(f"'{key}' must not be empty", json_pointer(key))
        if problem := control_character_problem(value):
            raise invalid_request(f"'{key}' {problem}", json_pointer(key))
        value = self.aliases.get(value, value)
        if self.choices is not None and value not in self.choices:
            raise invalid_request(f"Unknown {key} '{value}'; supported: {', '.join(self.choices)}", json_pointer(key))
        return value

    def value(self, body, key, cleaned):
        value = super().value(body, key, cleaned)
        if self.check is not None and (problem := self.check(value, cleaned, set(body))):
            raise invalid_request(problem, json_pointer(key))
        return value

    def base_schema(self):
        schema = {"type": "string"}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.non_empty:
            schema.update(minLength=1, pattern=r"\S")
        if self.choices is not None:
            # aliases are accepted but not listed: `karras` beside `Karras` clashes in clients that generate enums
            schema["enum"] = list(self.choices)
        else:
            schema["pattern"] = FREE_TEXT_PATTERN
        return schema


class ModelReference(Field):
    """The hash of a `ready` library model of one of `kinds`, fitting the checkpoint's base model."""

    def __init__(self, kinds, *, nullable=False, **kwargs):
        super().__init__(**kwargs)
        self.kinds, self.nullable = kinds, nullable

    def clean(self, value, key, cleaned):
        if value is None and self.nullable:
            return None
        model = ready_model(value, json_pointer(key), self.kinds, f"'{key}'")
        if model.model_type == "checkpoint" and (problem := unrendered_family(model.base_model)):
            raise invalid_request(f"Checkpoint {model.hash} cannot render: {problem}", json_pointer(key))
        if cleaned.get("checkpoint_hash") is not None:
            check_base(model, cleaned["checkpoint_hash"], json_pointer(key))
        return model

    def base_schema(self):
        return {"type": "string", "pattern": "^[0-9a-f]{64}$", **({"nullable": True} if self.nullable else {})}


class AdditionalModels(Field):
    """LoRAs, ControlNets (each with its control image) and embeddings, each model once (D9, D23), then the
    LoRAs named in the prompt (D34)."""

    def clean(self, entries, key, cleaned):
        if not isinstance(entries, list):
            raise invalid_request(f"'{key}' must be an array", json_pointer(key))
        extras, seen = [], set()
        for index, entry in enumerate(entries):
            at = lambda *parts: json_pointer(key, index, *parts)  # noqa: E731
            extras.append(additional_model(entry, at, cleaned["checkpoint_hash"], seen))
        return extras + inline_loras(cleaned["prompt"], cleaned["checkpoint_hash"], seen, MAX_WEIGHT, compatible)

    def base_schema(self):
        return {"type": "array", "items": {
            "type": "object", "required": ["model_hash"], "additionalProperties": False,
            "properties": {
                "model_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                               "description": "A `ready` lora, controlnet or embedding, once per task"},
                "weight": {"type": "number", "minimum": 0, "maximum": MAX_WEIGHT, "default": 1.0},
                "control_image": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                                  "description": "Image hash; required for controlnet, else not allowed"},
            },
        }}


class CheckedTogether(Field):
    """A field checked with the others of its group after the declared fields (e.g. the image inputs, which depend
    on each other); only its schema is declared here."""

    def __init__(self, schema, **kwargs):
        super().__init__(**kwargs)
        self._schema = schema

    def value(self, body, key, cleaned):
        return body.get(key)

    def schema(self):
        return dict(self._schema)


class TagNames(Field):
    def clean(self, names, key, cleaned):
        if not isinstance(names, list):
            raise invalid_request(f"'{key}' must be an array of tag names", json_pointer(key))
        for index, name in enumerate(names):
            if problem := tag_name_problem(name):
                raise invalid_request(problem, json_pointer(key, index))
        return names

    def base_schema(self):
        return {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": TAG_NAME_MAX,
                                           "pattern": LABEL_PATTERN}}


# --- the submission ------------------------------------------------------------------------------

def render_field(parameter) -> Field:
    """The check of one render parameter of engine/parameters.py."""
    common = {"default": parameter.default, "description": parameter.description}
    if parameter.type == "integer":
        return Integer(parameter.low, parameter.high, parameter.rule, multiple_of=parameter.multiple_of, **common)
    if parameter.type == "number":
        return Number(parameter.high, **common)
    if parameter.type == "seed":
        return Seed(parameter.high, **common)
    return Text(non_empty=parameter.non_empty, choices=parameter.choices, aliases=parameter.aliases,
                check=parameter.check, max_length=parameter.max_length, **common)


RENDER_FIELDS = {parameter.name: render_field(parameter) for parameter in RENDER_PARAMETERS}
SUBMISSION = {
    "checkpoint_hash": ModelReference(("checkpoint",), default=REQUIRED, description="A `ready` checkpoint (D9)"),
    **RENDER_FIELDS,
    "vae_hash": ModelReference(("vae",), nullable=True, description="A `ready` VAE (D9)"),
    "additional_models": AdditionalModels(default=[]),
    "tags": TagNames(default=[], description="Tag names (D3, D26)"),
    **{key: CheckedTogether(schema) for key, schema in IMAGE_FIELD_SCHEMAS.items()},
}
TASK_FIELDS = ("checkpoint_hash", *RENDER_FIELDS, "vae_hash")


def validate_submission(body: dict) -> Submission:
    """Check a task submission completely; raise APIError(400) at the first problem."""
    for key in body:
        if key not in SUBMISSION:
            raise invalid_request(f"Unknown field '{key}'", json_pointer(key))
    values = {}
    for key, declared in SUBMISSION.items():
        values[key] = declared.value(body, key, values)
    fields = {key.removesuffix("_hash"): values[key] for key in TASK_FIELDS}
    fields.update(validate_image_fields(body, values["width"], values["height"]))
    return Submission(fields=fields, extras=values["additional_models"], tag_names=values["tags"])


def submission_schema(example=None) -> dict:
    """The JSON Schema of a submission body, from `SUBMISSION`."""
    schema = {
        "type": "object", "additionalProperties": False,
        "required": [key for key, declared in SUBMISSION.items() if declared.default is REQUIRED],
        "properties": {key: declared.schema() for key, declared in SUBMISSION.items()},
    }
    if example is not None:
        schema["example"] = example
    return schema


# --- references to library models and images -----------------------------------------------------

def compatible(base_a, base_b) -> bool:
    """Base models fit when equal (ignoring case and spacing) or either is blank."""
    norm_a, norm_b = ((b or "").strip().casefold() for b in (base_a, base_b))
    return not norm_a or not norm_b or norm_a == norm_b


def ready_model(value, pointer, kinds, label):
    if not isinstance(value, str):
        raise invalid_request(f"{label} must be a model hash string", pointer)
    model = SDModel.objects.filter(hash=value).first()
    if model is None:
        raise invalid_request(unknown_model(value, label, kinds), pointer)
    if model.model_type not in kinds:
        raise invalid_request(f"Model {value} is {with_article(model.model_type)}; {label} must be {one_of(kinds)}", pointer)
    if model.status != "ready":
        raise invalid_request(f"Model {value} is not ready (status: {model.status})", pointer)
    return model


def check_base(model, checkpoint, pointer):
    if not compatible(model.base_model, checkpoint.base_model):
        raise invalid_request(
            f"Model {model.hash} is for base model {model.base_model}, "
            f"the checkpoint for {checkpoint.base_model}", pointer,
        )


def additional_model(entry, at, checkpoint, seen):
    """(SDModel, weight, control Image or None) for one `additional_models` entry."""
    if not isinstance(entry, dict):
        raise invalid_request("Each additional model must be an object", at())
    for key in entry:
        if key not in EXTRA_KEYS:
            raise invalid_request(f"Unknown key '{key}' in an additional model", at(key))
    if "model_hash" not in entry:
        raise invalid_request("'model_hash' is required", at("model_hash"))
    model = ready_model(entry["model_hash"], at("model_hash"), EXTRA_TYPES, "'model_hash'")
    if model.hash in seen:
        raise invalid_request(f"Model {model.hash} is listed more than once", at("model_hash"))
    seen.add(model.hash)
    check_base(model, checkpoint, at("model_hash"))
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
            f"'control_image' is only allowed on ControlNet entries, not on a {model.model_type}", at("control_image"),
        )
    return model, float(weight), control_image
