"""The render parameters, declared once: one `RenderParameter` per scalar field of a render.

Each entry states the field's name (the task column, the POST /api/tasks field and the RenderRequest field), its
type and limits, its default, its key in the PNG infotext with how the value is written and read back, the A1111
request field (or option) that sets it with A1111's default, its OpenAPI description and a hint for the web UI.

Everything else derives from `RENDER_PARAMETERS`:
- tasks_app/api/validation.py builds the submission's checks and its OpenAPI schema from it;
- tasks_app/api/resources.py the `task` resource's attributes, tasks_app/render_requests.py the engine request;
- engine/a1111/infotext.py writes the infotext and tasks_app/api/parameters.py reads it back;
- a1111_app maps A1111 requests onto submissions, its 422 locations back, its options and its `info` echo;
- GET /api/config lists the table (`generation.parameters`), and the web UI's composer builds its fields from it.

"How to add a render parameter" (docs/architecture.md): add an entry here, the Task column (model + migration), and
the engine code that uses it (a RenderRequest field of the same name and the code that reads it).

Limits and defaults that the service configures are `Setting("NAME")` (SDHOST[NAME]); the engine never reads
settings, the apps resolve them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .a1111.names import (
    DEFAULT_SAMPLER,
    DEFAULT_SCHEDULER,
    SAMPLER_NAMES,
    SCHEDULE_LABELS,
    SCHEDULER_ALIASES,
    SCHEDULERS,
    split_sampler,
    written_schedule,
)
from .a1111.values import format_number, parse_integer, parse_number, parse_size
from .samplers import schedule_problem

MAX_STEPS = 200  # D9; the API and the tasks table's CHECK constraint both use it
MAX_CFG_SCALE = 30
MAX_SEED = 2**63 - 10  # image i uses seed + i, which must fit a signed 64-bit column
MAX_CLIP_SKIP = 12
MIN_SIDE, SIDE_STEP = 64, 8
# characters of a prompt or negative prompt (docs/input.md): a few times the longest prompts A1111 users write, and
# short enough that the A1111 parser (engine/a1111/prompts.py) is done well within a second even with the
# worst-case nesting of brackets
PROMPT_MAX_LENGTH = 10_000

@dataclass(frozen=True)
class Setting:
    """A limit or default the service configures: SDHOST[name], read when used."""

    name: str


@dataclass(frozen=True)
class Infotext:
    """Where a parameter is written in the infotext's `Key: value` line and how it is read back.

    `write(values)` gets the render's parameter values by name and returns the text, or None to leave the key out;
    `read(text)` returns {name: value} for the submission, or None when the text is not usable (the key is then
    listed as ignored). `after_models`: written after `Model hash` / `Model` / `VAE` (A1111's order)."""

    key: str
    write: Callable[[dict], str | None]
    read: Callable[[str], dict | None]
    after_models: bool = False


def _single(name: str, write: Callable, read: Callable, key: str, *, when: Callable = lambda value: True,
            after_models: bool = False) -> Infotext:
    def read_one(text):
        value = read(text)
        return None if value is None else {name: value}

    return Infotext(key, lambda values: write(values[name]) if when(values[name]) else None, read_one, after_models)


def _size_read(text):
    size = parse_size(text)
    return None if size is None else {"width": size[0], "height": size[1]}


@dataclass(frozen=True)
class A1111:
    """The A1111 request field (`field`, in a txt2img / img2img body) or option (`option`, in `override_settings` and
    the stored options of POST /sdapi/v1/options) that sets the parameter, A1111's default for it, and the key of A1111's
    `info` echo that reports it."""

    field: str | None = None
    option: str | None = None
    default: object = None
    info: str | None = None
    direct: bool = True  # the field's value goes into the submission as it is (else a1111_app/mapping.py maps it)


@dataclass(frozen=True)
class RenderParameter:
    name: str
    type: str                       # "text" | "integer" | "number" | "seed"
    default: object = None          # a value, a Setting, or REQUIRED
    low: object = None              # integer / number limits (a value or a Setting)
    high: object = None
    multiple_of: int | None = None
    rule: str | None = None         # the limit as an error message says it ("{high}" filled in)
    non_empty: bool = False         # text
    max_length: int | None = None   # text: characters
    choices: tuple | None = None    # text
    aliases: dict | None = None     # text: other accepted spellings -> the choice stored
    # check(value, values, given): a problem with the values declared before it, or None; `given`: the fields the
    # submission names (a check may replace an earlier field's default, as `scheduler` does the sampler's)
    check: Callable[[object, dict, set], str | None] | None = None
    description: str | None = None  # OpenAPI
    infotext: Infotext | None = None
    a1111: A1111 = field(default_factory=A1111)
    ui: dict = field(default_factory=dict)  # the web UI's hints: label, widget, step, hint, order (in its form)


REQUIRED = object()


def _schedule_check(scheduler: str, values: dict, given: set) -> str | None:
    """The sampler takes the schedule type. Without a `sampler`, a schedule type other than Automatic goes with the
    default sampler's own name (DPM++ 2M), not its fused one (DPM++ 2M Karras, which would conflict)."""
    if "sampler" not in given and scheduler != DEFAULT_SCHEDULER:
        values["sampler"] = split_sampler(DEFAULT_SAMPLER)[0]
    return schedule_problem(values["sampler"], scheduler)

SIDE_RULE = f"a multiple of {SIDE_STEP} from {MIN_SIDE} to {{high}}"

# In the order A1111 writes them into the infotext (the submission and the task resource list them so too)
RENDER_PARAMETERS: tuple[RenderParameter, ...] = (
    RenderParameter(
        "prompt", "text", default=REQUIRED, non_empty=True, max_length=PROMPT_MAX_LENGTH,
        description=("A1111 syntax (D31, D32): `(word:1.2)`, `[word]`, `\\(`, `BREAK`, `[from:to:when]`, `[a|b]`, up to "
                     f"{PROMPT_MAX_LENGTH:,} characters. `<lora:NAME:WEIGHT>` tags add that LoRA (NAME: model name, file name without extension or "
                     "AutoV2; D34)"),
        a1111=A1111(field="prompt", default="", info="prompt"),
        ui={"label": "Prompt", "widget": "prompt", "hint": "A1111 syntax: (word:1.2), [word], BREAK, <lora:name:0.8>"}),
    RenderParameter(
        "negative_prompt", "text", default="", max_length=PROMPT_MAX_LENGTH,
        description=f"A1111 syntax as `prompt` (no LoRA tags), up to {PROMPT_MAX_LENGTH:,} characters",
        a1111=A1111(field="negative_prompt", default="", info="negative_prompt"),
        ui={"label": "Negative prompt", "widget": "textarea"}),
    RenderParameter(
        "steps", "integer", default=Setting("DEFAULT_STEPS"), low=1, high=MAX_STEPS, rule=f"from 1 to {MAX_STEPS}",
        description="Default: the configured default_steps",
        infotext=_single("steps", str, parse_integer, "Steps"),
        a1111=A1111(field="steps", default=50, info="steps"),
        ui={"label": "Steps", "widget": "number", "order": 3}),
    RenderParameter(
        "sampler", "text", default=DEFAULT_SAMPLER, choices=SAMPLER_NAMES,
        description=("A name listed by GET /api/config (D8). WebUI's older names with the schedule folded in "
                     "(`DPM++ 2M Karras`) stay valid: that schedule applies when `scheduler` is Automatic"),
        # written without a folded-in schedule (A1111 1.9+); read back with `Schedule type` by
        # tasks_app/api/parameters.py (pasted_schedule)
        infotext=Infotext("Sampler", lambda values: written_schedule(values["sampler"], values["scheduler"])[0],
                          lambda text: None),
        a1111=A1111(field="sampler_name", info="sampler_name", direct=False),  # mapped with `scheduler`
        ui={"label": "Sampler", "widget": "select"}),
    RenderParameter(
        "scheduler", "text", default=DEFAULT_SCHEDULER, choices=SCHEDULE_LABELS,
        aliases={**{name: label for name, label in SCHEDULERS}, **SCHEDULER_ALIASES},
        check=lambda value, values, given: _schedule_check(value, values, given),
        description=("A1111's schedule type (D46), by label or name (`Karras` or `karras`): Automatic is the "
                     "sampler's own (DPM++ 2M: Karras). Which samplers take which: docs/rendering.md"),
        # A1111 writes the resolved label: DPM++ 2M + Automatic -> Karras, Euler a + Automatic -> Automatic
        infotext=Infotext("Schedule type",
                          lambda values: written_schedule(values["sampler"], values["scheduler"])[1],
                          lambda text: None),
        a1111=A1111(field="scheduler", direct=False),  # mapped with `sampler_name`; A1111's info has no such key
        ui={"label": "Schedule type", "widget": "select"}),
    RenderParameter(
        "cfg_scale", "number", default=Setting("DEFAULT_CFG_SCALE"), high=MAX_CFG_SCALE,
        description="Default: the configured default_cfg_scale",
        infotext=_single("cfg_scale", format_number, parse_number, "CFG scale"),
        a1111=A1111(field="cfg_scale", default=7.0, info="cfg_scale"),
        ui={"label": "CFG scale", "widget": "number", "order": 4, "step": 0.5}),
    RenderParameter(
        "seed", "seed", default=-1, low=-1, high=MAX_SEED,
        description="-1 = random (D10); image i of a batch uses seed + i",
        infotext=_single("seed", str, parse_integer, "Seed"),
        a1111=A1111(field="seed", default=-1, direct=False),  # resolved once per job; info reports the seeds
        ui={"label": "Seed", "widget": "number", "order": 5, "hint": "-1 = random"}),
    RenderParameter(
        "width", "integer", default=512, low=MIN_SIDE, high=Setting("MAX_IMAGE_SIDE"), multiple_of=SIDE_STEP,
        rule=SIDE_RULE, description="Up to the configured max_image_size (D30)",
        infotext=Infotext("Size", lambda values: f"{values['width']}x{values['height']}", _size_read),
        a1111=A1111(field="width", default=512, info="width"),
        ui={"label": "Width", "widget": "number", "order": 1}),
    RenderParameter(
        "height", "integer", default=512, low=MIN_SIDE, high=Setting("MAX_IMAGE_SIDE"), multiple_of=SIDE_STEP,
        rule=SIDE_RULE, description="Up to the configured max_image_size (D30)",
        a1111=A1111(field="height", default=512, info="height"),  # infotext: with width, in `Size`
        ui={"label": "Height", "widget": "number", "order": 2}),
    RenderParameter(
        "batch_size", "integer", default=1, low=1, high=Setting("MAX_BATCH_SIZE"),
        rule="from 1 to {high} (the configured max_batch_size)", description="Up to the configured max_batch_size (D17)",
        a1111=A1111(field="batch_size", default=1, direct=False),  # n_iter x batch_size split into tasks
        ui={"label": "Batch", "widget": "number", "order": 6}),
    RenderParameter(
        "clip_skip", "integer", default=1, low=1, high=MAX_CLIP_SKIP, rule=f"from 1 to {MAX_CLIP_SKIP}",
        description="A1111's Clip skip (D33): 1 = last text-encoder layer, 2 = penultimate",
        infotext=_single("clip_skip", str, parse_integer, "Clip skip", when=lambda value: value > 1,
                         after_models=True),
        a1111=A1111(option="CLIP_stop_at_last_layers", default=1, info="clip_skip"),
        ui={"label": "Clip skip", "widget": "number", "order": 7}),
)

BY_NAME = {parameter.name: parameter for parameter in RENDER_PARAMETERS}
NAMES = tuple(BY_NAME)
A1111_OPTIONS = {parameter.a1111.option: parameter for parameter in RENDER_PARAMETERS if parameter.a1111.option}
INFOTEXT_KEYS = tuple(parameter.infotext.key for parameter in RENDER_PARAMETERS if parameter.infotext)


def infotext_fields(values: dict, after_models: bool) -> list[tuple[str, str]]:
    """The `(key, text)` pairs of the infotext line for a render's parameter `values`, those written before the model
    fields or (`after_models`) after them, in the table's order."""
    fields = []
    for parameter in RENDER_PARAMETERS:
        spec = parameter.infotext
        if spec is not None and spec.after_models == after_models:
            text = spec.write(values)
            if text is not None:
                fields.append((spec.key, text))
    return fields


def read_infotext(params: dict) -> tuple[dict, list[str]]:
    """({name: value} for the submission, [keys not usable]) from an infotext's `Key: value` pairs (unquoted). The
    sampler and schedule type are left to the caller (they are read together)."""
    values, unusable = {}, []
    for parameter in RENDER_PARAMETERS:
        spec = parameter.infotext
        if spec is None or spec.key not in params or parameter.name in ("sampler", "scheduler"):
            continue
        read = spec.read(params[spec.key])
        if read is None:
            unusable.append(spec.key)
        else:
            values.update(read)
    return values, unusable


def ui_description(parameter: RenderParameter, resolve: Callable[[object], object]) -> dict:
    """The parameter as GET /api/config lists it for clients (the web UI builds its fields from it); `resolve` turns a
    Setting into its configured value."""
    described = {"name": parameter.name, "type": parameter.type}
    default = resolve(parameter.default)
    if default is not REQUIRED:
        described["default"] = default
    else:
        described["required"] = True
    for key, value in (("minimum", parameter.low), ("maximum", parameter.high)):
        if value is not None:
            described[key] = resolve(value)
    if parameter.max_length is not None:
        described["max_length"] = parameter.max_length
    if parameter.multiple_of:
        described["multiple_of"] = parameter.multiple_of
    if parameter.choices is not None:
        described["choices"] = list(parameter.choices)
    if parameter.aliases:
        described["aliases"] = dict(parameter.aliases)
    if parameter.description:
        described["description"] = parameter.description
    if parameter.infotext is not None:
        described["infotext_key"] = parameter.infotext.key
    described.update(parameter.ui)
    return described
