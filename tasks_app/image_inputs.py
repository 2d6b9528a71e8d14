"""Image inputs of tasks: img2img / inpainting (D36), hires fix (D37) and upscale tasks (D38).

`validate_image_fields` checks the submission fields (400 `invalid_request` with a pointer, like the rest of
tasks_app/api/validation.py) and returns the Task fields to store; `engine_inputs` turns a claimed task back into
the engine's RenderRequest fields; `validate_upscale` checks POST /api/images/{hash}/upscale bodies.
"""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings

from core.content_store import is_sha256
from core.errors import invalid_request, json_pointer
from core.jsondata import integral, is_int
from engine.a1111.names import PIXEL_UPSCALERS, UPSCALER_NAMES
from engine.interface import DEFAULT_HIRES_STRENGTH, HiresSpec, UpscaleRequest
from engine.parameters import MAX_STEPS
from images_app.models import Image
from images_app.storage import image_file_path
from models_app.models import SDModel

IMAGE_KEYS = {"init_image", "denoising_strength", "mask_image", "mask_blur", "hires"}
HIRES_KEYS = {"scale", "width", "height", "steps", "denoising_strength", "upscaler"}
UPSCALE_KEYS = {"upscaler", "scale"}
DEFAULT_STRENGTH = 0.75
MAX_MASK_BLUR = 64
MAX_SCALE = 4

# The submission's image fields, declared for the OpenAPI schema (validation.SUBMISSION); they are checked together
# by validate_image_fields, since they depend on each other.
IMAGE_FIELD_SCHEMAS = {
    "init_image": {"type": "string", "nullable": True,
                   "description": "Image hash: image to image (D36); scaled and centre-cropped to width x height"},
    "denoising_strength": {"type": "number", "minimum": 0, "maximum": 1, "default": DEFAULT_STRENGTH,
                           "description": "With init_image only; ceil(steps x strength) steps run"},
    "mask_image": {"type": "string", "nullable": True,
                   "description": "Image hash, needs init_image: inpainting (white = repaint, black = keep; "
                                  "fitted to the size like the init image)"},
    "mask_blur": {"type": "integer", "minimum": 0, "maximum": MAX_MASK_BLUR, "default": 4, "description": "Pixels"},
    "hires": {"type": "object", "nullable": True, "description": "Hires fix (D37), text to image only",
              "additionalProperties": False,
              "properties": {
                  "scale": {"type": "number", "minimum": 1, "maximum": MAX_SCALE,
                            "description": "Final size = floor(side x scale) to a multiple of 8; or give width "
                                           "and height"},
                  "width": {"type": "integer", "multipleOf": 8}, "height": {"type": "integer", "multipleOf": 8},
                  "steps": {"type": "integer", "minimum": 0, "maximum": MAX_STEPS, "default": 0,
                            "description": "Second-pass steps; 0 = the task's steps"},
                  "denoising_strength": {"type": "number", "minimum": 0, "maximum": 1,
                                         "default": DEFAULT_HIRES_STRENGTH},
                  "upscaler": {"type": "string", "default": "Latent",
                               "description": "Latent, Latent (nearest-exact), Lanczos, or an upscaler model hash"},
              }},
}


def _number(value, pointer, low, high, label):
    if not (is_int(value) or isinstance(value, float)) or value != value or not low <= value <= high:
        raise invalid_request(f"{label} must be a number from {low} to {high}", pointer)
    return float(value)


def _image(value, pointer, label):
    if not isinstance(value, str):
        raise invalid_request(f"{label} must be an image hash string", pointer)
    image = Image.objects.filter(hash=value).first()
    if image is None:
        raise invalid_request(f"Unknown image {value}", pointer)
    return image


def with_article(noun: str) -> str:
    """'a checkpoint', 'an upscaler', 'an embedding': by the first letter, which is right for every model kind."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def one_of(kinds) -> str:
    """'a checkpoint'; 'a lora, a controlnet or an embedding'."""
    named = [with_article(kind) for kind in kinds]
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} or {named[-1]}"


def unknown_model(value: str, label: str, kinds) -> str:
    """Why no model has the hash `value`: a value that is no SHA256 (a model's name, most likely) is told so, with
    the hash of the model of that name, or how to look it up."""
    if is_sha256(value.lower()):
        return f"Unknown model {value}"
    hint = f"Unknown model '{value}': {label} takes a model's SHA256 (64 hex digits), not its name"
    named = list(SDModel.objects.filter(name__iexact=value.strip(), model_type__in=kinds)[:2])
    if len(named) == 1:
        return f"{hint}; the {named[0].model_type} named '{named[0].name}' has the hash {named[0].hash}"
    lookup = f"filter[name][contains]={quote(value.strip(), safe='')}"
    if len(kinds) == 1:
        lookup = f"filter[model_type]={kinds[0]}&{lookup}"
    return f"{hint}; find the hash with GET /api/models?{lookup}"


def _upscaler(value, pointer, *, builtin):
    """A built-in upscaler name (returned as None) or a ready upscaler model."""
    if not isinstance(value, str):
        raise invalid_request("'upscaler' must be a string", pointer)
    if value in builtin:
        return None
    model = SDModel.objects.filter(hash=value).first()
    if model is None:
        detail = f"'upscaler' must be one of {', '.join(builtin)} or an upscaler model hash"
        if not is_sha256(value.lower()):  # an upscaler model's name, most likely
            detail += ". " + unknown_model(value, "'upscaler'", ("upscaler",))
        raise invalid_request(detail, pointer)
    if model.model_type != "upscaler":
        raise invalid_request(f"Model {value} is {with_article(model.model_type)}, not an upscaler", pointer)
    if model.status != "ready":
        raise invalid_request(f"Model {value} is not ready (status: {model.status})", pointer)
    return model


def validate_image_fields(body: dict, width: int, height: int) -> dict:
    """The image-to-image, inpainting and hires fields of a task submission, as Task constructor arguments."""
    fields = {}
    if body.get("init_image") is not None:
        fields["init_image"] = _image(body["init_image"], "/init_image", "'init_image'")
        fields["denoising_strength"] = _number(body.get("denoising_strength", DEFAULT_STRENGTH),
                                               "/denoising_strength", 0, 1, "'denoising_strength'")
    elif "denoising_strength" in body:  # null too: the schema's type is number
        raise invalid_request("'denoising_strength' applies to image to image: give 'init_image' too",
                              "/denoising_strength")
    if body.get("mask_image") is not None:
        if "init_image" not in fields:
            raise invalid_request("'mask_image' needs 'init_image' (inpainting repaints an image)", "/mask_image")
        fields["mask_image"] = _image(body["mask_image"], "/mask_image", "'mask_image'")
    mask_blur = integral(body.get("mask_blur", 4))
    if mask_blur is None or not 0 <= mask_blur <= MAX_MASK_BLUR:
        raise invalid_request(f"'mask_blur' must be an integer from 0 to {MAX_MASK_BLUR}", "/mask_blur")
    fields["mask_blur"] = mask_blur
    if body.get("hires") is not None:
        if "init_image" in fields:
            raise invalid_request("'hires' applies to text to image only, not with 'init_image'", "/hires")
        fields["hires"], fields["upscaler"] = _hires(body["hires"], width, height)
    return fields


def _hires(value, width: int, height: int):
    """(the stored hires object, the upscaler model or None) of a submission's `hires`."""
    if not isinstance(value, dict):
        raise invalid_request("'hires' must be an object", "/hires")
    for key in value:
        if key not in HIRES_KEYS:
            raise invalid_request(f"Unknown key '{key}' in 'hires'", json_pointer("hires", key))
    max_side = settings.SDHOST["MAX_IMAGE_SIDE"]
    scale = None
    if "scale" in value:
        if "width" in value or "height" in value:
            raise invalid_request("Give 'scale' or 'width' and 'height', not both", "/hires/scale")
        scale = _number(value["scale"], "/hires/scale", 1, MAX_SCALE, "'scale'")
        final = (int(width * scale) // 8 * 8, int(height * scale) // 8 * 8)  # down to multiples of 8
        for side in final:
            if side > max_side:
                raise invalid_request(f"The hires size {final[0]}x{final[1]} exceeds the maximum side of "
                                      f"{max_side} (D30)", "/hires/scale")
    elif "width" in value and "height" in value:
        final = []
        for key, first in (("width", width), ("height", height)):
            side = integral(value[key])
            if side is None or side % 8 or not first <= side <= max_side:
                raise invalid_request(f"'{key}' must be a multiple of 8 from the first pass's {first} to {max_side}",
                                      json_pointer("hires", key))
            final.append(side)
    else:
        raise invalid_request("'hires' needs 'scale', or 'width' and 'height'", "/hires")
    steps = integral(value.get("steps", 0))
    if steps is None or not 0 <= steps <= MAX_STEPS:
        raise invalid_request(f"'steps' must be an integer from 0 (the task's steps) to {MAX_STEPS}", "/hires/steps")
    strength = _number(value.get("denoising_strength", DEFAULT_HIRES_STRENGTH), "/hires/denoising_strength", 0, 1,
                       "'denoising_strength'")
    upscaler_name = value.get("upscaler", "Latent")
    model = _upscaler(upscaler_name, "/hires/upscaler", builtin=UPSCALER_NAMES)
    stored = {"scale": scale, "width": final[0], "height": final[1], "steps": steps,
              "denoising_strength": strength, "upscaler": upscaler_name}
    return stored, model


def validate_upscale(body, image) -> dict:
    """The Task fields of an upscale task for `image` from a POST /api/images/{hash}/upscale body (D38)."""
    if not isinstance(body, dict):
        raise invalid_request("The body must be a JSON object")
    for key in body:
        if key not in UPSCALE_KEYS:
            raise invalid_request(f"Unknown field '{key}'", json_pointer(key))
    model = _upscaler(body.get("upscaler", "Lanczos"), "/upscaler", builtin=PIXEL_UPSCALERS)
    scale = _number(body.get("scale", 2), "/scale", 1, MAX_SCALE, "'scale'")
    limit = MAX_SCALE * settings.SDHOST["MAX_IMAGE_SIDE"]
    if max(image.width, image.height) * scale > limit:
        raise invalid_request(f"The result would exceed {limit} px a side (4x the maximum image side)", "/scale")
    return {"kind": "upscale", "checkpoint": None, "prompt": "", "init_image": image, "upscaler": model,
            "upscale_scale": scale, "width": round(image.width * scale), "height": round(image.height * scale),
            "steps": 1, "batch_size": 1}


def engine_inputs(task, model_file) -> dict:
    """RenderRequest fields for a render task's image inputs; `model_file(SDModel)` makes a ModelFile."""
    fields = {}
    if task.init_image_id is not None or task.denoising_strength is not None:
        if task.init_image is None:
            raise ValueError("The init image of this task no longer exists")
        fields.update(init_image_path=str(image_file_path(task.init_image)),
                      denoising_strength=task.denoising_strength, mask_blur=task.mask_blur)
        if task.mask_image_id is not None:
            fields["mask_path"] = str(image_file_path(task.mask_image))
    if task.hires:
        hires = task.hires
        model = None
        if hires["upscaler"] not in UPSCALER_NAMES:
            if task.upscaler is None:
                raise ValueError("The hires upscaler model of this task no longer exists")
            model = model_file(task.upscaler)
        fields["hires"] = HiresSpec(
            width=hires["width"], height=hires["height"], steps=hires["steps"],
            denoising_strength=hires["denoising_strength"], scale=hires["scale"],
            upscaler=model.name if model else hires["upscaler"], upscaler_model=model,
        )
    return fields


def upscale_request(task, model_file):
    """The engine's UpscaleRequest for a claimed upscale task."""
    if task.init_image is None:
        raise ValueError("The image to upscale no longer exists")
    return UpscaleRequest(image_path=str(image_file_path(task.init_image)), scale=task.upscale_scale,
                          upscaler_model=model_file(task.upscaler) if task.upscaler else None)

