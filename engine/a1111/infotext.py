"""A1111 infotext, the PNG `parameters` text: written for each image we render (D10) and parsed (D35).

Writing follows A1111's `create_infotext` (modules/processing.py) for the fields we render: the prompt, a
`Negative prompt:` line when there is one, then one line of `Key: value` pairs, a value quoted when it holds a
comma, colon or newline.

Parsing follows A1111's `parse_generation_parameters` (modules/infotext_utils.py): the last line holds the
`Key: value` pairs when it has at least three; lines before it are the prompt, up to a line starting with
`Negative prompt:`, after which they are the negative prompt. A value in double quotes is JSON (so it may hold
commas and colons). Unknown keys are kept; nothing here fails on unexpected text.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from packaging.version import InvalidVersion, Version

from ..interface import RenderRequest, UpscaleRequest
from ..parameters import NAMES, infotext_fields
from .values import SIZE_TEXT, format_number

PNG_TEXT_KEY = "parameters"  # the PNG text chunk that holds the infotext
_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')  # A1111's re_param
# Where a `Key: value` can start: the first word character of a run of key characters. findall() with _PARAM tries
# every position of a run that has no ':' after it, each scanning to the run's end: quadratic (a 32 KB line of
# words took 8 s). A key found from any later position of the run would end at the same place, so none is lost.
_KEY_START = re.compile(r"(?<![\w \-/])[ \-/]*(\w)")
# Characters of an infotext SD-Host reads (docs/input.md): a PNG `parameters` chunk that is longer is not copied
# into the image's metadata, POST /api/tasks/parse-parameters refuses it. Ours are at most two prompts of
# PROMPT_MAX_LENGTH and a line of parameters.
INFOTEXT_MAX_LENGTH = 65_536
NEGATIVE_PREFIX = "Negative prompt:"


@dataclass
class Infotext:
    prompt: str = ""
    negative_prompt: str = ""
    params: dict = field(default_factory=dict)  # key -> unquoted value, in the order written


def unquote(value: str) -> str:
    """A1111's unquote: a JSON string literal when the value is one, else the value unchanged."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def quote(value: str) -> str:
    """A1111's quote: JSON-quoted when the value holds a comma, colon or newline."""
    if not any(char in value for char in ",:\n"):
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_infotext(text: str) -> Infotext:
    """Prompt, negative prompt and `Key: value` parameters of an A1111 / Forge infotext."""
    *lines, last = text.strip().split("\n")
    if len(_params(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE_PREFIX):
            in_negative = True
            line = line[len(NEGATIVE_PREFIX):].strip()
        (negative if in_negative else prompt).append(line)
    params = {}
    for key, value in _params(last):
        if value:  # A1111 skips a key with an empty value
            params[key] = unquote(value)
    return Infotext("\n".join(prompt), "\n".join(negative), params)


def _params(line: str) -> list[tuple[str, str]]:
    """`_PARAM.findall(line)`, in time linear in the line (see _KEY_START)."""
    found, position = [], 0
    while (start := _KEY_START.search(line, position)) is not None:
        match = _PARAM.match(line, start.start(1))
        if match is None:
            position = start.end()
        else:
            found.append(match.groups())
            position = match.end()
    return found


def generation_parameters(text: str) -> dict:
    """The infotext as the dict A1111 1.10's `parse_generation_parameters` (modules/infotext_utils.py) returns, its
    /png-info answer: `Prompt`, `Negative prompt`, each key (a `WxH` size as `<key>-1` and `<key>-2` only), then
    A1111's defaults for the keys the text leaves out (`Clip skip: 1`, `RNG: GPU`, `Schedule type`, ...), old
    hires fix sizes (`First pass size`) restated, and the `Version` back-compatibility flags (default options).
    A sampler name with its schedule fused in, as before A1111 1.9 ("DPM++ 2M Karras", our own names), is split
    into `Sampler` and `Schedule type`, as A1111's get_sampler_and_scheduler reads it."""
    parsed = parse_infotext(text)
    res = {"Prompt": parsed.prompt, "Negative prompt": parsed.negative_prompt}
    for key, value in parsed.params.items():
        size = SIZE_TEXT.match(value)  # A1111's re_imagesize: the size's sides only, no raw `Size` key
        if size:
            res[f"{key}-1"], res[f"{key}-2"] = size.groups()
        else:
            res[key] = value
    if "Hypernet" in res:
        res["Prompt"] += f"<hypernet:{res['Hypernet']}:{res.get('Hypernet strength', '1.0')}>"
    for key, default in A1111_PARSE_DEFAULTS.items():
        res.setdefault(key, default)
    _restore_old_hires_fix(res)
    for key, default in A1111_LATE_DEFAULTS.items():
        res.setdefault(key, default)
    if "Cache FP16 weight for LoRA" not in res and res["FP8 weight"] != "Disable":
        res["Cache FP16 weight for LoRA"] = False
    _split_fused_sampler(res)
    res.update(_backcompat_flags(res))
    return res


# What A1111 1.10's parse_generation_parameters fills in for a key the infotext leaves out, in its order (before and
# after it restates old hires fix sizes); the types are A1111's (numbers where it writes numbers)
A1111_PARSE_DEFAULTS = {
    "Clip skip": "1", "Hires resize-1": 0, "Hires resize-2": 0, "Hires sampler": "Use same sampler",
    "Hires checkpoint": "Use same checkpoint", "Hires prompt": "", "Hires negative prompt": "",
    "Mask mode": "Inpaint masked", "Masked content": "original", "Inpaint area": "Whole picture",
    "Masked area padding": 32,
}
A1111_LATE_DEFAULTS = {
    "RNG": "GPU", "Schedule type": "Automatic", "Schedule max sigma": 0, "Schedule min sigma": 0, "Schedule rho": 0,
    "VAE Encoder": "Full", "VAE Decoder": "Full", "FP8 weight": "Disable",
}
# Schedules A1111 before 1.9 fused into its sampler names ("DPM++ 2M Karras", "DPM++ 2M SDE Exponential")
FUSED_SCHEDULES = ("Karras", "Exponential")
OLD_HIRES_FIRST_PASS_PIXELS = 512 * 512


def _restore_old_hires_fix(res: dict) -> None:
    """A1111's restore_old_hires_fix_params (default options): an old hires infotext's `First pass size` is the
    first pass, its `Size` the hires size; 0x0 meant "about 512x512 pixels", on a 64-pixel grid."""
    first_width, first_height = res.get("First pass size-1"), res.get("First pass size-2")
    if first_width is None or first_height is None:
        return
    first_width, first_height = int(first_width), int(first_height)
    width, height = int(res.get("Size-1", 512)), int(res.get("Size-2", 512))
    if first_width == 0 or first_height == 0:
        scale = math.sqrt(OLD_HIRES_FIRST_PASS_PIXELS / (width * height)) if width and height else 1
        first_width, first_height = math.ceil(scale * width / 64) * 64, math.ceil(scale * height / 64) * 64
    res.update({"Size-1": first_width, "Size-2": first_height, "Hires resize-1": width, "Hires resize-2": height})


def _split_fused_sampler(res: dict) -> None:
    """`Sampler: DPM++ 2M Karras` -> `Sampler: DPM++ 2M`, `Schedule type: Karras` (the fused name wins, as in A1111's
    get_sampler_and_scheduler)."""
    sampler = res.get("Sampler")
    if not isinstance(sampler, str):
        return
    for schedule in FUSED_SCHEDULES:
        if sampler.endswith(" " + schedule) and len(sampler) > len(schedule) + 1:
            res["Sampler"], res["Schedule type"] = sampler[:-len(schedule) - 1], schedule
            return


VERSION_1_6, VERSION_1_7_TSNR, VERSION_1_8 = Version("1.6.0"), Version("1.7.0.post225"), Version("1.8.0")


def _version(text) -> Version | None:
    """A1111's infotext_versions.parse_version: `v1.7.0-225-g1234abc` -> 1.7.0.post225; None when unreadable."""
    if not isinstance(text, str):
        return None
    match = re.match(r"([^-]+-[^-]+)-.*", text)
    try:
        return Version(match.group(1) if match else text)
    except InvalidVersion:
        return None


def _backcompat_flags(res: dict) -> dict:
    """A1111's infotext_versions.backcompat (auto_backcompat on, its default): flags for infotexts of older
    versions, so that pasting them renders as those versions did."""
    version = _version(res.get("Version"))
    if version is None:
        return {}
    flags = {}
    if version < VERSION_1_6 and "[" in res["Prompt"]:
        flags["Old prompt editing timelines"] = True
    if version < VERSION_1_6 and res.get("Sampler") in ("DDIM", "PLMS"):
        flags["Pad conds v0"] = True
    if version < VERSION_1_7_TSNR:
        flags["Downcast alphas_cumprod"] = True
    if version < VERSION_1_8 and res.get("Refiner"):
        flags["Refiner switch by sampling steps"] = True
    return flags


def parse_hash_list(value: str) -> list[tuple[str, str]]:
    """`"name: hash, name2: hash2"` (Lora hashes, TI hashes) as [(name, hash)]; malformed parts are skipped."""
    pairs = []
    for part in value.split(","):
        name, colon, digest = part.rpartition(":")
        if colon and name.strip() and digest.strip():
            pairs.append((name.strip(), digest.strip()))
    return pairs


# ---------------------------------------------------------------------------------------------------- writing

def short_hash(sha256: str) -> str:
    return sha256[:10]


def _hash_name(name: str) -> str:
    """A name inside `Lora hashes` / `TI hashes`: without ':' and ',' as A1111 writes it."""
    return name.replace(":", "").replace(",", "")


def format_parameters(request: RenderRequest, seed: int) -> str:
    """The `parameters` text: prompt, optional negative prompt line, then the `Key: value` line."""
    lines = [request.prompt]
    if request.negative_prompt:
        lines.append(f"{NEGATIVE_PREFIX} {request.negative_prompt}")
    values = {name: getattr(request, name) for name in NAMES} | {"seed": seed}  # engine/parameters.py
    checkpoint = request.checkpoint
    fields = infotext_fields(values, after_models=False)
    fields += [("Model hash", short_hash(checkpoint.sha256)), ("Model", checkpoint.name)]
    if request.vae is not None:
        fields += [("VAE hash", short_hash(request.vae.sha256)), ("VAE", request.vae.name)]
    fields += infotext_fields(values, after_models=True)
    fields += image_fields(request)
    if request.loras:
        hashes = ", ".join(f"{_hash_name(spec.model.name)}: {short_hash(spec.model.sha256)}" for spec in request.loras)
        fields.append(("Lora hashes", hashes))
    if request.embeddings:
        hashes = ", ".join(f"{_hash_name(e.token)}: {short_hash(e.model.sha256)}" for e in request.embeddings)
        fields.append(("TI hashes", hashes))
    lines.append(", ".join(f"{key}: {quote(value)}" for key, value in fields))  # quoted as A1111 does
    return "\n".join(lines)


def image_fields(request: RenderRequest) -> list[tuple[str, str]]:
    """The fields of D36/D37: denoising strength, mask blur, hires settings."""
    fields = []
    if request.init_image_path is not None:
        fields.append(("Denoising strength", format_number(request.denoising_strength)))
        if request.mask_path is not None:
            fields.append(("Mask blur", str(request.mask_blur)))
    hires = request.hires
    if hires is not None:
        fields.append(("Denoising strength", format_number(hires.denoising_strength)))
        if hires.scale is not None:
            fields.append(("Hires upscale", format_number(hires.scale)))
        else:
            fields.append(("Hires resize", f"{hires.width}x{hires.height}"))
        if hires.steps:
            fields.append(("Hires steps", str(hires.steps)))
        fields.append(("Hires upscaler", hires.upscaler))
    return fields


def parameters_after_upscale(parameters: str | None, request: UpscaleRequest) -> str:
    """The source image's `parameters` text with A1111's postprocessing fields appended (or just those) (D38)."""
    name = request.upscaler_model.name if request.upscaler_model is not None else "Lanczos"
    fields = f"Postprocess upscale by: {format_number(request.scale)}, Postprocess upscaler: {name}"
    return f"{parameters}, {fields}" if parameters else fields
