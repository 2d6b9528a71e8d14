"""A1111 request bodies (its modules/api/models.py) as POST /api/tasks submissions (D39).

Each A1111 field maps onto a submission field, which tasks_app/api/validation.py then checks like any submission;
A1111 defaults apply where a field is absent. Fields A1111 does not define are ignored, as A1111 does; fields it
defines that we cannot honour are listed in `ignored` when they ask for something (a value other than the neutral
one), so nothing is dropped without a trace.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field

from django.conf import settings

from core.jsondata import integral
from engine.a1111.names import BUILTIN_UPSCALERS, DEFAULT_SCHEDULER, schedule_label, split_sampler
from engine.a1111.prompts import extract_lora_tags
from engine.interface import DEFAULT_HIRES_STRENGTH, random_seed
from engine.parameters import A1111_OPTIONS, RENDER_PARAMETERS
from engine.parameters import MAX_SEED as TASK_MAX_SEED
from images_app.storage import inspect_image
from tasks_app.api.inline_loras import library_loras

from . import catalogue, options
from .errors import A1111Error, ValidationFailed

TASK_TAG = "sdapi"  # every task this API submits carries it (interrupt and progress find them by it)
MAX_IMAGES = 100  # n_iter x batch_size of one request
MAX_SEED = TASK_MAX_SEED - MAX_IMAGES  # less the seeds of the images after the first

# A1111's request defaults for the fields we map (StableDiffusionProcessing / ...Txt2Img / ...Img2Img): those of
# the render parameters (engine/parameters.py) and the request's own
COMMON_DEFAULTS = {
    **{p.a1111.field: p.a1111.default for p in RENDER_PARAMETERS if p.a1111.field},
    "n_iter": 1, "override_settings": {}, "alwayson_scripts": {}, "send_images": True,
    "save_images": False,
}
# The render parameters whose A1111 field goes into the submission as it is (seed, batch_size and sampler are mapped)
DIRECT_FIELDS = {p.name: p.a1111.field for p in RENDER_PARAMETERS if p.a1111.field and p.a1111.direct}
TXT2IMG_DEFAULTS = {**COMMON_DEFAULTS, "enable_hr": False, "denoising_strength": None, "hr_scale": 2.0,
                    "hr_upscaler": None, "hr_second_pass_steps": 0, "hr_resize_x": 0, "hr_resize_y": 0}
IMG2IMG_DEFAULTS = {**COMMON_DEFAULTS, "init_images": None, "denoising_strength": 0.75, "mask": None,
                    "mask_blur": 4, "inpainting_mask_invert": 0}
DEFAULT_SAMPLER = "Euler"  # A1111's sampler_index default
# Fields A1111 defines that we do not honour, with the values that ask for nothing
UNSUPPORTED = {
    "styles": ([],), "subseed": (-1, 0), "subseed_strength": (0,), "seed_resize_from_h": (-1, 0),
    "seed_resize_from_w": (-1, 0), "restore_faces": (False,), "tiling": (False,), "eta": (1.0,),
    "s_churn": (0,), "s_tmax": (0,), "s_tmin": (0,), "s_noise": (1,), "s_min_uncond": (0,),
    "firstphase_width": (0,), "firstphase_height": (0,), "hr_checkpoint_name": ("Use same checkpoint",),
    "hr_sampler_name": ("Use same sampler",), "hr_scheduler": ("Use same scheduler",), "hr_prompt": (),
    "hr_negative_prompt": (), "refiner_checkpoint": (), "refiner_switch_at": (), "image_cfg_scale": (1.5,),
    "inpaint_full_res": (True, 1), "inpaint_full_res_padding": (0, 32), "initial_noise_multiplier": (1,),
    "latent_mask": (), "mask_blur_x": (4,), "mask_blur_y": (4,), "mask_round": (True,),
    "resize_mode": (1,), "inpainting_fill": (1,), "script_name": (), "script_args": ([],),
    "comments": ({},), "disable_extra_networks": (False,), "firstpass_image": (),
}
# The always-on scripts a request may name (A1111 answers 422 for a script it does not have): ControlNet, which we
# honour, and those every A1111 1.10 has (listed in `ignored` when their arguments ask for something), by lower-case
# title. We have no selectable scripts (GET /scripts lists none): any `script_name` is not found.
ALWAYSON_SCRIPTS = {"controlnet", "refiner", "seed", "sampler", "comments", "hypertile", "soft inpainting",
                    "extra options"}
# Options a request may override (override_settings) and the ones we keep (POST /options)
HONOURED_OVERRIDES = {"sd_model_checkpoint", "sd_vae", *A1111_OPTIONS}


def asks_for_something(value, neutral) -> bool:
    return value not in (None, "", [], {}) and value not in neutral


@dataclass
class Job:
    """One A1111 request as the tasks that render it."""

    bodies: list                  # POST /api/tasks bodies, one per task
    images: dict                  # submission field -> image bytes to store first (init_image, mask_image)
    control_images: list          # bytes of each ControlNet unit's image, in additional_models order
    seed: int
    ignored: list
    parameters: dict              # the request as A1111 echoes it
    checkpoint: object = None
    vae: object = None
    send_images: bool = True
    count: int = 1
    extra_info: dict = field(default_factory=dict)


def integer(body, key, low, high) -> int:
    value = integral(body[key])
    if value is None:
        raise ValidationFailed([key], "value is not a valid integer", "type_error.integer")
    if not low <= value <= high:
        raise ValidationFailed([key], f"ensure this value is from {low} to {high}", "value_error.number.not_in_range")
    return value


def decode_image(value, loc) -> bytes:
    """The bytes of a base64 image (a `data:` URL prefix allowed), checked to be an image we can read."""
    if not isinstance(value, str) or not value:
        raise ValidationFailed(loc, "str type expected", "type_error.str")
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        data = base64.b64decode(value, validate=False)
        inspect_image(data, max_pixels=settings.SDHOST["MAX_IMAGE_PIXELS"])
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed(loc, f"Invalid encoded image: {exc}") from None
    except Exception as exc:  # Pillow's own errors and our APIError (not an image, too large)
        raise ValidationFailed(loc, f"Invalid encoded image: {getattr(exc, 'detail', exc)}") from None
    return data


def inverted(data: bytes) -> bytes:
    """A mask with white and black swapped (A1111's inpainting_mask_invert)."""
    import io

    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as mask:
        out = io.BytesIO()
        ImageOps.invert(mask.convert("L")).save(out, format="PNG")
    return out.getvalue()


class _Mapper:
    def __init__(self, body, defaults: dict):
        if not isinstance(body, dict):
            raise ValidationFailed([], "value is not a valid dict", "type_error.dict")
        self.body = {key: value for key, value in body.items() if value is not None or key not in defaults}
        self.values = {**defaults, **{key: value for key, value in self.body.items() if key in defaults}}
        self.ignored: list[str] = []
        self.stored = options.stored()

    def ignore(self, note: str) -> None:
        if note not in self.ignored:
            self.ignored.append(note)

    def unsupported(self) -> None:
        self.scripts_and_styles()
        for key, neutral in UNSUPPORTED.items():
            if key in self.body and asks_for_something(self.body[key], neutral):
                self.ignore(key)

    def scripts_and_styles(self) -> None:
        """A1111's 422s for `script_name`, `script_args` and `styles` of the wrong type and for scripts it does not
        have (its script_name_to_index): a request naming one is not rendered without it."""
        script_name, script_args = self.body.get("script_name"), self.body.get("script_args")
        if script_name not in (None, ""):
            if not isinstance(script_name, str):
                raise ValidationFailed(["script_name"], "str type expected", "type_error.str")
            raise A1111Error(422, f"Script '{script_name}' not found")
        if script_args is not None and not isinstance(script_args, list):
            raise ValidationFailed(["script_args"], "value is not a valid list", "type_error.list")
        styles = self.body.get("styles")
        if styles is not None:
            if not isinstance(styles, list):
                raise ValidationFailed(["styles"], "value is not a valid list", "type_error.list")
            for index, style in enumerate(styles):
                if not isinstance(style, str):
                    raise ValidationFailed(["styles", index], "str type expected", "type_error.str")
        scripts = self.values["alwayson_scripts"]
        if not isinstance(scripts, dict):
            raise ValidationFailed(["alwayson_scripts"], "value is not a valid dict", "type_error.dict")
        for name, script in scripts.items():
            if name.lower() not in ALWAYSON_SCRIPTS:
                raise A1111Error(422, f"Script '{name}' not found")
            if not isinstance(script, dict):
                raise ValidationFailed(["alwayson_scripts", name], "value is not a valid dict", "type_error.dict")
            if "args" in script and not isinstance(script["args"], list):
                raise ValidationFailed(["alwayson_scripts", name, "args"], "value is not a valid list",
                                       "type_error.list")

    def overrides(self) -> dict:
        overrides = self.values["override_settings"]
        if not isinstance(overrides, dict):
            raise ValidationFailed(["override_settings"], "value is not a valid dict", "type_error.dict")
        for key in overrides:
            if key not in HONOURED_OVERRIDES:
                self.ignore(f"override_settings.{key}")
        return overrides

    def models(self, job_fields: dict) -> tuple:
        overrides = self.overrides()
        if "sd_model_checkpoint" in overrides:
            checkpoint = catalogue.find_model(overrides["sd_model_checkpoint"], "checkpoint")
            if checkpoint is None:
                raise ValidationFailed(["override_settings", "sd_model_checkpoint"],
                                       f"model {overrides['sd_model_checkpoint']!r} not found")
        else:
            checkpoint = options.current_checkpoint(self.stored)
            if checkpoint is None:
                raise A1111Error(400, "No checkpoint: import one into the library first")
        if "sd_vae" in overrides:
            try:
                vae = options.vae_named(overrides["sd_vae"])
            except A1111Error as exc:
                raise ValidationFailed(["override_settings", "sd_vae"], exc.detail) from None
        else:
            vae = options.current_vae(self.stored)
        job_fields.update(checkpoint_hash=checkpoint.hash, vae_hash=vae.hash if vae else None)
        job_fields.update({p.name: overrides.get(option, self.stored[p.name]) for option, p in A1111_OPTIONS.items()})
        return checkpoint, vae

    def sampler(self) -> tuple[str, str]:
        """(sampler, scheduler) as A1111's get_sampler_and_scheduler reads `sampler_name` and `scheduler`: a
        schedule folded into the sampler's name wins; an unknown schedule type is Automatic (listed as ignored).
        The submission then checks that the sampler takes the schedule type (a 422 on `scheduler` if not)."""
        name = self.values["sampler_name"] or self.body.get("sampler_index") or DEFAULT_SAMPLER
        scheduler = self.values["scheduler"]
        if not isinstance(name, str):
            raise ValidationFailed(["sampler_name"], "str type expected", "type_error.str")
        split = split_sampler(name)
        if split is None:
            raise ValidationFailed(["sampler_name"], f"Sampler not found: {name!r}")
        label = DEFAULT_SCHEDULER if scheduler in (None, "") else schedule_label(scheduler)
        if label is None:
            self.ignore(f"scheduler ({scheduler})")
            label = DEFAULT_SCHEDULER
        base, fused = split
        return base, fused or label

    def scripts(self) -> tuple[list, list]:
        """(additional_models entries, their control images) from ControlNet's common form; other scripts
        are listed as ignored."""
        extras, images = [], []
        for name, script in self.values["alwayson_scripts"].items():  # checked by scripts_and_styles
            args = script.get("args")
            if name.lower() == "controlnet" and isinstance(args, list):
                for index, unit in enumerate(args):
                    entry = self.controlnet_unit(unit, ["alwayson_scripts", name, "args", index])
                    if entry is not None:
                        extras.append(entry[0])
                        images.append(entry[1])
            elif asks_for_something(script, ()) and (
                    args is None or any(arg not in (False, None, "", [], {}) for arg in args)):
                self.ignore(f"alwayson_scripts.{name}")
        return extras, images

    def controlnet_unit(self, unit, loc):
        if not isinstance(unit, dict) or unit.get("enabled", True) is False:
            return None
        if not unit.get("model") or unit["model"] == "None":
            return None
        model = catalogue.find_model(unit["model"], "controlnet")
        if model is None:
            raise ValidationFailed([*loc, "model"], f"ControlNet model {unit['model']!r} not found")
        image = unit.get("image") or unit.get("input_image")
        if isinstance(image, dict):
            image = image.get("image")
        if image is None:
            raise ValidationFailed([*loc, "image"], "A ControlNet unit needs its image")
        module = unit.get("module")
        if module not in (None, "", "none", "None"):
            self.ignore(f"ControlNet module {module} (the image is used as the control image as given)")
        if unit.get("guidance_start", 0) not in (0, None) or unit.get("guidance_end", 1) not in (1, None):
            self.ignore("ControlNet guidance_start/guidance_end (applied over all steps)")
        weight = unit.get("weight", 1.0)
        return {"model_hash": model.hash, "weight": weight}, decode_image(image, [*loc, "image"])

    def echo(self) -> dict:
        """The request as A1111 answers it in `parameters`: its fields with defaults, without the input images
        (A1111 leaves them out unless include_init_images)."""
        echoed = {**self.values, **{key: value for key, value in self.body.items() if key in UNSUPPORTED}}
        return {**echoed, **{key: None for key in ("init_images", "mask") if key in echoed}}

    def without_unknown_loras(self, prompt):
        """A1111 renders a prompt whose `<lora:name:w>` names no LoRA (it only warns): such a tag is taken out of the
        prompt and listed as ignored; the others are resolved by the submission as usual (D34)."""
        if not isinstance(prompt, str):
            return prompt
        _, tags = extract_lora_tags(prompt)
        for tag in tags:
            if len(library_loras(tag.name)) != 1:
                prompt = prompt.replace(tag.tag, "", 1)
                self.ignore(f"{tag.tag} (no single LoRA of that name in the library)")
        return prompt

    def seed(self) -> int:
        seed = integral(self.values["seed"])
        if seed is None:
            raise ValidationFailed(["seed"], "value is not a valid integer", "type_error.integer")
        if seed == -1 or seed < 0:
            return random_seed()
        if seed > MAX_SEED:
            raise ValidationFailed(["seed"], f"ensure this value is at most {MAX_SEED}")
        return seed

    def job(self, extra_fields: dict, images: dict) -> Job:
        self.unsupported()
        values = self.values
        batch_size = integer(values, "batch_size", 1, MAX_IMAGES)
        n_iter = integer(values, "n_iter", 1, MAX_IMAGES)
        if batch_size * n_iter > MAX_IMAGES:
            raise ValidationFailed(["n_iter"], f"n_iter x batch_size must be at most {MAX_IMAGES}")
        base = {name: values[a1111_field] for name, a1111_field in DIRECT_FIELDS.items()}
        base["prompt"] = self.without_unknown_loras(base["prompt"])
        base["sampler"], base["scheduler"] = self.sampler()
        checkpoint, vae = self.models(base)
        extras, control_images = self.scripts()
        if extras:
            base["additional_models"] = extras
        base.update(extra_fields)
        base["tags"] = [TASK_TAG]
        seed = self.seed()
        count = batch_size * n_iter
        chunk = min(batch_size, settings.SDHOST["MAX_BATCH_SIZE"])
        bodies = [{**base, "seed": seed + start, "batch_size": min(chunk, count - start)}
                  for start in range(0, count, chunk)]
        return Job(bodies=bodies, images=images, control_images=control_images, seed=seed, ignored=self.ignored,
                   parameters=self.echo(), checkpoint=checkpoint, vae=vae, send_images=values["send_images"] is not False,
                   count=count)


def txt2img_job(body) -> Job:
    mapper = _Mapper(body, TXT2IMG_DEFAULTS)
    values, fields = mapper.values, {}
    if values["enable_hr"]:  # without it A1111 uses denoising_strength for nothing either
        fields["hires"] = hires(mapper)
    return mapper.job(fields, {})


def hires(mapper: _Mapper) -> dict:
    values = mapper.values
    spec = {"steps": values["hr_second_pass_steps"],
            "denoising_strength": DEFAULT_HIRES_STRENGTH if values["denoising_strength"] is None
            else values["denoising_strength"]}
    resize_x, resize_y = values["hr_resize_x"], values["hr_resize_y"]
    if resize_x and resize_y:
        spec.update(width=resize_x, height=resize_y)
    elif resize_x or resize_y:  # one side given: the other keeps the aspect ratio, as A1111
        width, height = values["width"], values["height"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0
                   for v in (width, height, resize_x or resize_y)):
            raise ValidationFailed(["hr_resize_x" if resize_x else "hr_resize_y"], "value is not a valid number")
        if resize_x:
            spec.update(width=resize_x, height=math.ceil(resize_x * height / width / 8) * 8)
        else:
            spec.update(width=math.ceil(resize_y * width / height / 8) * 8, height=resize_y)
    else:
        spec["scale"] = values["hr_scale"]
    spec["upscaler"] = hires_upscaler(mapper, values["hr_upscaler"])
    return spec


def hires_upscaler(mapper: _Mapper, name) -> str:
    if name in (None, ""):
        return "Latent"
    if not isinstance(name, str):
        raise ValidationFailed(["hr_upscaler"], "str type expected", "type_error.str")
    if name in BUILTIN_UPSCALERS:
        ours = BUILTIN_UPSCALERS[name]
        if ours != name:
            mapper.ignore(f"hr_upscaler ({name} rendered as {ours})")
        return ours
    if name == "None":
        mapper.ignore("hr_upscaler (None rendered as Lanczos)")
        return "Lanczos"
    model = catalogue.find_model(name, "upscaler")
    if model is None:
        raise ValidationFailed(["hr_upscaler"], f"could not find upscaler named {name}")
    return model.hash


def img2img_job(body) -> Job:
    mapper = _Mapper(body, IMG2IMG_DEFAULTS)
    values = mapper.values
    init_images = values["init_images"]
    if not isinstance(init_images, list) or not init_images:
        raise ValidationFailed(["init_images"], "field required: a list of base64 images", "value_error.missing")
    if len(init_images) > 1:
        mapper.ignore("init_images (all but the first)")
    images = {"init_image": decode_image(init_images[0], ["init_images", 0])}
    fields = {"denoising_strength": values["denoising_strength"], "mask_blur": values["mask_blur"]}
    if values["mask"] is not None:
        mask = decode_image(values["mask"], ["mask"])
        images["mask_image"] = inverted(mask) if values["inpainting_mask_invert"] else mask
    return mapper.job(fields, images)
