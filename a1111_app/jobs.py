"""A1111 requests through the task queue: submit a job's tasks, wait for them, answer in A1111's shapes;
progress, interrupt and skip of the running job (D39). No render path of its own: the tasks are ordinary
POST /api/tasks submissions, rendered by the worker and stored in the library."""

from __future__ import annotations

import base64
import io
import json
import threading
from datetime import datetime

from django.conf import settings
from PIL import Image

from core.writes import write_transaction
from engine.parameters import RENDER_PARAMETERS
from images_app.storage import delete_image_file, image_file_path, store_image_bytes
from tasks_app import previews, queue, throughput, worker
from tasks_app.api.validation import validate_submission
from tasks_app.models import Task, TaskImage

from . import catalogue
from .errors import A1111Error
from .mapping import TASK_TAG, Job

FINISHED = ("completed", "failed", "cancelled")
_jobs_lock = threading.Lock()
_jobs: dict[int, list[str]] = {}  # this process's waiting A1111 requests: id -> their task ids


def submit(job: Job) -> list[str]:
    """Store the job's input images and submit its tasks, all or nothing (a refused submission stores nothing:
    the rows roll back, new image files are deleted)."""
    created = []

    def write():
        extra_images = {}
        for key, data in job.images.items():
            extra_images[key] = stored(data, created).hash
        controls = [stored(data, created).hash for data in job.control_images]
        submissions = []
        for body in job.bodies:
            body = {**body, **extra_images}
            if controls:
                body["additional_models"] = [{**entry, "control_image": image}
                                             for entry, image in zip(body["additional_models"], controls)]
            submissions.append(validate_submission(body))
        require_worker()
        return [queue.submit(s.fields, s.extras, s.tag_names).id for s in submissions]

    return write_all_or_nothing(write, created)


def write_all_or_nothing(write, created: list) -> list[str]:
    """Run `write` (it stores images, appending the new ones to `created`, and queues tasks) in one transaction
    whose tasks carry the A1111 tag; when it fails, the new image files are deleted too."""
    try:
        task_ids = write_transaction(write, tags=True)
        worker.queue_changed()
    except Exception:
        for image in created:
            delete_image_file(image)
        raise
    return task_ids


def require_worker() -> None:
    """An A1111 request waits for its tasks: without a render worker anywhere it would wait for ever."""
    if not worker.worker_is_running():
        raise A1111Error(503, "No render worker is running (SDHOST_RENDER_WORKER is off and no "
                              "`manage.py runworker render` is alive); nothing was queued", "RuntimeError")


def stored(data: bytes, created: list):
    """The image of `data` in the library, stored now if new (then appended to `created`)."""
    image, is_new = store_image_bytes(data, max_pixels=settings.SDHOST["MAX_IMAGE_PIXELS"])
    if is_new:
        created.append(image)
    return image


def register(task_ids: list[str]) -> int:
    with _jobs_lock:
        key = id(task_ids)
        _jobs[key] = task_ids
    return key


def unregister(key: int) -> None:
    with _jobs_lock:
        _jobs.pop(key, None)


def statuses(task_ids: list[str]) -> dict:
    return dict(Task.objects.filter(id__in=task_ids).values_list("id", "status"))


def all_finished(task_ids: list[str]) -> bool:
    found = statuses(task_ids)
    return all(found.get(task_id, "cancelled") in FINISHED for task_id in task_ids)


def result(job: Job, task_ids: list[str]) -> dict:
    """The A1111 response of a finished job: images in seed order, `parameters`, `info` as a JSON string."""
    tasks = {task.id: task for task in Task.objects.filter(id__in=task_ids)}
    failed = [task for task in tasks.values() if task.status == "failed"]
    if failed and not any(task.status == "completed" for task in tasks.values()):
        raise A1111Error(500, f"Render failed: {failed[0].error_message}", "RuntimeError")
    links = TaskImage.objects.filter(task_id__in=task_ids).select_related("image")
    images = sorted((link.image for link in links), key=lambda image: (image.seed is None, image.seed or 0))
    encoded = [base64.b64encode(image_file_path(image).read_bytes()).decode("ascii") for image in images] \
        if job.send_images else []
    first = job.bodies[0]
    seeds = [image.seed for image in images]
    info = {
        **{p.a1111.info: first[p.name] for p in RENDER_PARAMETERS if p.a1111.info},
        "all_prompts": [first["prompt"]] * len(images), "all_negative_prompts": [first["negative_prompt"]] * len(images),
        "seed": seeds[0] if seeds else job.seed, "all_seeds": seeds, "subseed": -1, "all_subseeds": [-1] * len(images),
        "subseed_strength": 0, "batch_size": job.parameters["batch_size"],
        "restore_faces": False, "face_restoration_model": None,
        "sd_model_name": job.checkpoint.name, "sd_model_hash": catalogue.autov2(job.checkpoint),
        "sd_vae_name": catalogue.file_name(job.vae) if job.vae else None,
        "sd_vae_hash": catalogue.autov2(job.vae) if job.vae else None,
        "seed_resize_from_w": -1, "seed_resize_from_h": -1,
        "denoising_strength": first.get("denoising_strength", (first.get("hires") or {}).get("denoising_strength")),
        "extra_generation_params": {}, "index_of_first_image": 0,
        "infotexts": [(image.metadata or {}).get("parameters", "") for image in images],
        "styles": [], "job_timestamp": datetime.now().strftime("%Y%m%d%H%M%S"),
        "is_using_inpainting_conditioning": False, "version": "sd-host",
        "ignored": job.ignored, "task_ids": task_ids,
        "interrupted": any(task.status == "cancelled" for task in tasks.values()),
    }
    return {"images": encoded, "parameters": job.parameters, "info": json.dumps(info)}


def _job_tasks() -> list[list[str]]:
    with _jobs_lock:
        return [list(ids) for ids in _jobs.values()]


def stop_running(whole_job: bool) -> list[str]:
    """Cancel the running A1111 task(s); with `whole_job` (interrupt) also the rest of the jobs they belong to.
    Skip cancels only the earliest running task, as A1111's skip ends one iteration: where the worker merged
    several tasks of a job into one call (cross-task batching), the others finish."""
    running = set(Task.objects.filter(status="running", tags__name=TASK_TAG).values_list("id", flat=True))
    targets = set(running)
    if not whole_job and running:
        targets = {Task.objects.filter(id__in=running).order_by("created_at", "id").values_list("id", flat=True)[0]}
    if whole_job:
        for task_ids in _job_tasks():
            if running & set(task_ids):
                targets.update(task_ids)
    if not targets:
        return []
    cancelled, running_ids, _ = queue.cancel(sorted(targets))
    worker.request_cancel(running_ids)
    if cancelled:
        worker.queue_changed()
    return cancelled


def progress(skip_current_image: bool = False) -> dict:
    """A1111's ProgressResponse for the running task (this API's first, else any). `current_image`: its newest
    live preview (tasks_app.previews) as base64 PNG, as A1111 sends it (samples_format png), unless skipped."""
    running = queue.running_tasks()
    ours = set(Task.objects.filter(id__in=[t.id for t in running], tags__name=TASK_TAG).values_list("id", flat=True))
    running.sort(key=lambda task: task.id not in ours)
    task = running[0] if running else None
    pending = Task.objects.filter(status="pending", tags__name=TASK_TAG).count()
    fraction, eta, live = 0.0, 0.0, None
    if task is not None:
        live = worker.current_estimates().get(task.id)
        fraction = live.fraction if live is not None else task.progress
        _, ahead, _, _ = queue.estimates(worker.current_estimates())
        eta = live.seconds_left if live is not None and live.seconds_left is not None else ahead
    steps = task.steps if task is not None else 0
    state = {
        "skipped": False, "interrupted": False, "stopping_generation": False,
        "job": f"task({task.id})" if task else "", "job_count": max(len(ours), 1 if task else 0) + pending,
        "job_timestamp": task.started_at.strftime("%Y%m%d%H%M%S") if task and task.started_at else "0",
        "job_no": 0, "sampling_step": round((fraction or 0.0) * steps), "sampling_steps": steps,
    }
    current_image = None if task is None or skip_current_image else _preview_png(task.id)
    loading = live is not None and live.phase == throughput.LOADING
    return {"progress": round(fraction or 0.0, 4), "eta_relative": round(eta or 0.0, 3), "state": state,
            "current_image": current_image, "textinfo": "Loading model" if loading else None}


def _preview_png(task_id: str) -> str | None:
    """The task's newest live preview as base64 PNG (no data: prefix), None when it has none."""
    found = previews.read(task_id)
    if found is None:
        return None
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(found[1])) as image:
        image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
