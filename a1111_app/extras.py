"""POST /extra-single-image and /extra-batch-images (A1111's "Extras" upscale, #22 item 2).

No upscale path of its own: each image is stored in the library and upscaled by an ordinary upscale task (D38),
built by `validate_upscale` and queued by `queue.submit` exactly as POST /api/images/{hash}/upscale does; the
request waits for the tasks like txt2img. The fields are A1111's ExtrasBaseRequest (modules/api/models.py):
`upscaler_1` (a name /upscalers lists: `None`, `Lanczos` or a library upscaler by name, title or hash),
`resize_mode` 0 (by `upscaling_resize`) or 1 (to `upscaling_resize_w` x `upscaling_resize_h`, centre-cropped
to that size with `upscaling_crop`, as A1111's postprocessing_upscale does); the answer A1111's
`{"html_info", "image"}` / `{"html_info", "images"}`.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

from PIL import Image as PILImage
from PIL import PngImagePlugin

from core.errors import APIError
from core.jsondata import integral
from engine.a1111.infotext import quote
from engine.a1111.names import PIXEL_UPSCALERS
from engine.a1111.values import format_number
from images_app.storage import image_file_path
from tasks_app import queue
from tasks_app.image_inputs import validate_upscale
from tasks_app.models import Task, TaskImage

from . import catalogue, jobs
from .errors import A1111Error, ValidationFailed
from .mapping import MAX_IMAGES, TASK_TAG, asks_for_something, decode_image

# A1111's ExtrasBaseRequest defaults
DEFAULTS = {
    "resize_mode": 0, "show_extras_results": True, "gfpgan_visibility": 0, "codeformer_visibility": 0,
    "codeformer_weight": 0, "upscaling_resize": 2, "upscaling_resize_w": 512, "upscaling_resize_h": 512,
    "upscaling_crop": True, "upscaler_1": "None", "upscaler_2": "None", "extras_upscaler_2_visibility": 0,
    "upscale_first": False,
}
# Fields we do not honour (face restoration, a second upscaler blended in), with the values that ask for nothing;
# one that asks for something is named in html_info
UNSUPPORTED = {"gfpgan_visibility": (0,), "codeformer_visibility": (0,), "extras_upscaler_2_visibility": (0,)}
NO_UPSCALER = "None"  # A1111's name for "do not upscale": the images come back as they are


@dataclass
class ExtrasJob:
    images: list                       # the input images' bytes
    upscaler: str | None               # "Lanczos", an upscaler model's hash, or None (no upscaling)
    upscaler_name: str = ""            # as A1111 names it in the infotext
    scale: float | None = None         # resize_mode 0
    target: tuple | None = None        # resize_mode 1: (width, height)
    crop: bool = False
    ignored: list = field(default_factory=list)


def _number(values, key, *, integer=False, low=None):
    value = values[key]
    number = integral(value) if integer else (value if isinstance(value, int | float) and not isinstance(value, bool)
                                              else None)
    if number is None or number != number or number in (float("inf"), float("-inf")):
        kind = "integer" if integer else "float"
        raise ValidationFailed([key], f"value is not a valid {kind}", f"type_error.{kind}")
    if low is not None and number < low:
        raise ValidationFailed([key], f"ensure this value is greater than or equal to {low}",
                               "value_error.number.not_ge")
    return number


def extras_job(body, *, batch: bool) -> ExtrasJob:
    """Check an extras request's fields (FastAPI's 422s) and decode its images."""
    if not isinstance(body, dict):
        raise ValidationFailed([], "value is not a valid dict", "type_error.dict")
    values = {**DEFAULTS, **{key: value for key, value in body.items() if key in DEFAULTS and value is not None}}
    images = _batch_images(body) if batch else [decode_image(body.get("image"), ["image"])]
    mode = values["resize_mode"]
    if mode not in (0, 1) or isinstance(mode, bool):
        raise ValidationFailed(["resize_mode"], "unexpected value; permitted: 0, 1", "value_error.const")
    if not isinstance(values["upscaling_crop"], bool):
        raise ValidationFailed(["upscaling_crop"], "value could not be parsed to a boolean", "type_error.bool")
    job = ExtrasJob(images=images, upscaler=None, crop=mode == 1 and values["upscaling_crop"])
    if mode == 0:
        job.scale = float(_number(values, "upscaling_resize"))
        if job.scale <= 0:
            raise ValidationFailed(["upscaling_resize"], "ensure this value is greater than 0", "value_error.number.not_gt")
    else:
        job.target = (_number(values, "upscaling_resize_w", integer=True, low=1),
                      _number(values, "upscaling_resize_h", integer=True, low=1))
    name = values["upscaler_1"]
    if not isinstance(name, str):
        raise ValidationFailed(["upscaler_1"], "str type expected", "type_error.str")
    if name != NO_UPSCALER:
        if name in PIXEL_UPSCALERS:
            job.upscaler, job.upscaler_name = name, name
        else:
            model = catalogue.find_model(name, "upscaler")
            if model is None:  # A1111: "could not find upscaler named ..." (its assertion, a 500 there)
                raise ValidationFailed(["upscaler_1"], f"could not find upscaler named {name}")
            job.upscaler, job.upscaler_name = model.hash, model.name
    for key, neutral in UNSUPPORTED.items():
        if key in body and asks_for_something(body[key], neutral):
            job.ignored.append(key)
    return job


def _batch_images(body) -> list[bytes]:
    files = body.get("imageList")
    if not isinstance(files, list):
        raise ValidationFailed(["imageList"], "field required: a list of {data, name}", "value_error.missing")
    if len(files) > MAX_IMAGES:
        raise ValidationFailed(["imageList"], f"ensure this list has at most {MAX_IMAGES} items",
                               "value_error.list.max_items")
    images = []
    for index, entry in enumerate(files):
        if not isinstance(entry, dict):
            raise ValidationFailed(["imageList", index], "value is not a valid dict", "type_error.dict")
        if not isinstance(entry.get("name"), str):
            raise ValidationFailed(["imageList", index, "name"], "field required", "value_error.missing")
        images.append(decode_image(entry.get("data"), ["imageList", index, "data"]))
    return images


def submit(job: ExtrasJob) -> list[str]:
    """Store the images and queue one upscale task each, as POST /api/images/{hash}/upscale does; all or nothing."""
    created = []

    def write():
        task_ids = []
        for index, data in enumerate(job.images):
            image = jobs.stored(data, created)
            scale = job.scale if job.target is None else max(job.target[0] / image.width,
                                                               job.target[1] / image.height)
            try:
                fields = validate_upscale({"upscaler": job.upscaler, "scale": scale}, image)
            except APIError as error:
                raise _located(error, job, scale, image) from None
            task_ids.append(queue.submit(fields, tag_names=[TASK_TAG]).id)
        jobs.require_worker()
        return task_ids

    return jobs.write_all_or_nothing(write, created)


def _located(error: APIError, job: ExtrasJob, scale: float, image) -> Exception:
    """validate_upscale's 400 on the A1111 field behind it."""
    if error.status != 400:
        return A1111Error(error.status, error.detail)
    if error.pointer == "/upscaler":
        return ValidationFailed(["upscaler_1"], error.detail)
    if job.target is None:
        return ValidationFailed(["upscaling_resize"], error.detail)
    return ValidationFailed(["upscaling_resize_w"], f"{error.detail}: {job.target[0]}x{job.target[1]} scales the "
                                                    f"{image.width}x{image.height} image by {scale:.4g}")


def passed_through(job: ExtrasJob) -> list[bytes]:
    """`upscaler_1: None`: A1111 upscales nothing and answers the images as PNG."""
    return [_png(PILImage.open(io.BytesIO(data))) for data in job.images]


def results(job: ExtrasJob, task_ids: list[str]) -> list[bytes]:
    """The upscaled PNGs of finished tasks, in the request's order (a cancelled task's is missing), cropped to the
    target size where A1111 crops."""
    tasks = {task.id: task for task in Task.objects.filter(id__in=task_ids)}
    failed = [tasks[task_id] for task_id in task_ids if tasks[task_id].status == "failed"]
    if failed:
        raise A1111Error(500, f"Upscale failed: {failed[0].error_message}", "RuntimeError")
    links = {link.task_id: link.image for link in TaskImage.objects.filter(task_id__in=task_ids).select_related("image")}
    out = []
    for task_id in task_ids:
        if task_id in links:
            data = image_file_path(links[task_id]).read_bytes()
            out.append(_cropped(data, job.target) if job.crop else data)
    return out


def _cropped(data: bytes, target: tuple) -> bytes:
    """The centre `target` of the image (A1111 pastes the upscaled image centred on a canvas of that size)."""
    with PILImage.open(io.BytesIO(data)) as image:
        image.load()
        width, height = target
        left, top = (image.width - width) // 2, (image.height - height) // 2
        return _png(image.crop((left, top, left + width, top + height)), image.info)


def _png(image, info=None) -> bytes:
    """PNG bytes keeping the image's text chunks (its infotext), as A1111's encode_pil_to_base64 does."""
    info = image.info if info is None else info
    chunks = PngImagePlugin.PngInfo()
    for key, value in info.items():
        if isinstance(key, str) and isinstance(value, str):
            chunks.add_text(key, value)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=chunks)
    return out.getvalue()


def html_info(job: ExtrasJob) -> str:
    """A1111's html_info: its postprocessing infotext as `<p>` HTML; what was not honoured on a line after it."""
    fields = {}
    if job.upscaler is not None:
        if job.target is None:
            fields["Postprocess upscale by"] = format_number(job.scale)
        else:
            fields["Postprocess upscale to"] = f"{job.target[0]}x{job.target[1]}"
            if job.crop:
                fields["Postprocess crop to"] = f"{job.target[0]}x{job.target[1]}"
        fields["Postprocess upscaler"] = job.upscaler_name
    lines = [", ".join(f"{key}: {quote(value)}" for key, value in fields.items())]
    if job.ignored:
        lines.append(f"Ignored: {', '.join(job.ignored)}")
    return "<p>" + "<br>\n".join(html.escape(line) for line in lines) + "</p>"


def encoded(images: list[bytes]) -> list[str]:
    return [base64.b64encode(data).decode("ascii") for data in images]
