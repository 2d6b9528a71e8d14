"""/sdapi/v1 views (D39): plain Django views, async where they wait for a render, errors in A1111's shapes."""

from __future__ import annotations

import asyncio
import io

from asgiref.sync import sync_to_async
from django.http import JsonResponse

from core.parsers import StrictJSONParser
from engine.a1111.infotext import generation_parameters
from images_app.storage import inspect_image

from . import extras, jobs, mapping, options
from .errors import A1111Error, ValidationFailed, a1111_errors, methods

POLL_SECONDS = 0.02  # how often a waiting request looks at its tasks' rows
# the query booleans FastAPI (pydantic 1) accepts
BOOLEANS = {**dict.fromkeys(("true", "1", "yes", "on", "t", "y"), True),
            **dict.fromkeys(("false", "0", "no", "off", "f", "n"), False)}


def is_json(content_type: str) -> bool:
    """application/json or another JSON media type (`application/*+json`), as FastAPI reads a JSON body."""
    main, _, sub = content_type.strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def json_body(request, *, required=True):
    """The request's JSON body (FastAPI's 422 for a malformed one). It must say it is JSON: a form or text/plain
    body, which a page of another site can send without asking first, is refused (415)."""
    if not request.body:
        if required:
            raise ValidationFailed([], "field required", "value_error.missing")
        return {}
    if not is_json(request.content_type or ""):
        raise A1111Error(415, f"Send the body as JSON with Content-Type: application/json, not "
                              f"{request.content_type or '(none)'}", "UnsupportedMediaType")
    try:
        return StrictJSONParser().parse(io.BytesIO(request.body))
    except Exception as exc:
        raise ValidationFailed([0], f"JSON decode error: {getattr(exc, 'detail', exc)}",
                               "value_error.jsondecode") from None


def answer(data) -> JsonResponse:
    return JsonResponse(data, safe=False)


async def wait_for(task_ids: list[str]) -> None:
    """Wait until the tasks have all finished (interrupt finds them meanwhile: jobs.register)."""
    key = jobs.register(task_ids)
    try:
        while not await sync_to_async(jobs.all_finished)(task_ids):
            await asyncio.sleep(POLL_SECONDS)
    finally:
        jobs.unregister(key)


async def render(request, make_job):
    """Map the request, submit its tasks, wait until they are all finished, answer A1111's response."""
    body = json_body(request)
    job = await sync_to_async(make_job)(body)
    task_ids = await sync_to_async(jobs.submit)(job)
    await wait_for(task_ids)
    return answer(await sync_to_async(jobs.result)(job, task_ids))


async def upscale(request, *, batch: bool) -> tuple:
    """An extras request: (the resulting PNGs, html_info). Each image is an upscale task (D38), the queue's."""
    body = json_body(request)
    job = await sync_to_async(extras.extras_job)(body, batch=batch)
    if job.upscaler is None:
        return extras.passed_through(job), extras.html_info(job)
    task_ids = await sync_to_async(extras.submit)(job)
    await wait_for(task_ids)
    return await sync_to_async(extras.results)(job, task_ids), extras.html_info(job)


@methods("POST")
@a1111_errors
async def txt2img(request):
    return await render(request, mapping.txt2img_job)


@methods("POST")
@a1111_errors
async def img2img(request):
    return await render(request, mapping.img2img_job)


@methods("POST")
@a1111_errors
async def extra_single_image(request):
    images, info = await upscale(request, batch=False)
    return answer({"html_info": info, "image": extras.encoded(images)[0] if images else None})


@methods("POST")
@a1111_errors
async def extra_batch_images(request):
    images, info = await upscale(request, batch=True)
    return answer({"html_info": info, "images": extras.encoded(images)})


@methods("GET")
@a1111_errors
def progress(request):
    """GET /progress?skip_current_image=: the running job's progress and its live preview (`current_image`)."""
    skip = request.GET.get("skip_current_image", "false").strip().lower()
    if skip not in BOOLEANS:
        return JsonResponse({"detail": [{"loc": ["query", "skip_current_image"], "msg": "value could not be parsed "
                                         "to a boolean", "type": "type_error.bool"}]}, status=422)
    return answer(jobs.progress(skip_current_image=BOOLEANS[skip]))


def stopper(whole_job: bool):
    """POST /interrupt (the running request's tasks) or /skip (its running task only)."""
    @methods("POST")
    @a1111_errors
    def view(request):
        jobs.stop_running(whole_job=whole_job)
        return answer(None)
    return view


interrupt, skip = stopper(whole_job=True), stopper(whole_job=False)


@methods("GET", "POST")
@a1111_errors
def options_view(request):
    if request.method == "GET":
        return answer(options.as_a1111())
    body = json_body(request)
    if not isinstance(body, dict):
        raise ValidationFailed([], "value is not a valid dict", "type_error.dict")
    options.apply(body)
    return answer(None)


@methods("POST")
@a1111_errors
def png_info(request):
    """POST /png-info: the image's infotext, parsed as A1111's parse_generation_parameters does."""
    body = json_body(request)
    if not isinstance(body, dict) or not body.get("image"):
        raise ValidationFailed(["image"], "field required", "value_error.missing")
    _, _, _, text = inspect_image(mapping.decode_image(body["image"], ["image"]))
    text = text or ""  # an image without infotext: A1111 parses "" too, which gives its defaults
    return answer({"info": text, "items": {}, "parameters": generation_parameters(text)})


@methods("POST")
@a1111_errors
def interrogate(request):
    """POST /interrogate: A1111 captions an image with CLIP or DeepBooru; SD-Host has no captioning model."""
    raise A1111Error(501, "Interrogate (CLIP / DeepBooru captioning) is not provided by SD-Host: it has no "
                          "captioning model", "NotImplementedError")


@methods("POST")
@a1111_errors
def refresh(request):
    """POST /refresh-checkpoints, /refresh-loras, /refresh-vae: the library is always current."""
    return answer(None)


def listing(build):
    @methods("GET")
    @a1111_errors
    def view(request):
        return answer(build())
    view.__name__ = view.__qualname__ = getattr(build, "__name__", "listing")
    return view


def scripts():
    return {"txt2img": [], "img2img": []}


def nothing():
    return []


def cmd_flags():
    return {"api": True, "nowebui": True, "api_auth": None}


def memory():
    return {"ram": {}, "cuda": {}}


