"""Cross-task batching in the render worker: compatible tasks next in queue order render as one pipeline call,
each keeping its own images, PNG chunk, progress and cancel (tiny real models on the CPU)."""

import io
import time

import numpy as np
import pytest
from PIL import Image as PILImage

from engine.tiny_models import write_model_file
from images_app.models import Image
from images_app.storage import image_file_path
from models_app.services import import_model_file
from tasks_app import queue
from tasks_app.models import Task
from tests.support.worker import wait_done

PROMPTS = [("a red fox", 101, 7.0), ("a blue lake", 202, 4.0), ("[snow:rain:1] on a hill", 303, 9.5),
           ("a red fox", 404, 7.0)]


@pytest.fixture
def checkpoint(transactional_db, tmp_path):
    return import_model_file(write_model_file(tmp_path / "ckpt.safetensors", seed=0), name="tiny")[0]


def submit(api, checkpoint, **fields):
    body = {"checkpoint_hash": checkpoint.hash, "prompt": "a tiny test", "width": 64, "height": 64, "steps": 3,
            "sampler": "Euler a", **fields}
    response = api.post_json("/api/tasks", body)
    assert response.status_code == 202, response.content
    return response.json()["task_id"]


def submit_stream(api, checkpoint, **fields):
    return [submit(api, checkpoint, prompt=prompt, seed=seed, cfg_scale=cfg, **fields) for prompt, seed, cfg in PROMPTS]


def rendered(task_id):
    """{seed: (pixels, PNG parameters)} of a task's images."""
    out = {}
    for image in Image.objects.filter(task_links__task_id=task_id):
        with PILImage.open(io.BytesIO(image_file_path(image).read_bytes())) as png:
            out[image.seed] = (np.asarray(png.convert("RGB")).astype(int), png.info["parameters"])
    return out


def merged(task_ids) -> bool:
    """Whether the tasks ran together: every one started before any finished."""
    tasks = list(Task.objects.filter(id__in=task_ids))
    return max(t.started_at for t in tasks) < min(t.completed_at for t in tasks)


def test_compatible_tasks_render_together_and_match_their_solo_renders(api, checkpoint, request, settings):
    settings.SDHOST = {**settings.SDHOST, "MAX_MERGED_BATCH": 8}
    batched = submit_stream(api, checkpoint)
    request.getfixturevalue("render_worker")  # started with the whole stream queued
    assert [wait_done(task_id) for task_id in batched] == ["completed"] * 4
    assert merged(batched)
    assert len({Task.objects.get(id=t).worker_id for t in batched}) == 1

    settings.SDHOST = {**settings.SDHOST, "MAX_MERGED_BATCH": 1}  # merging off: each task alone
    solo = submit_stream(api, checkpoint)
    assert [wait_done(task_id) for task_id in solo] == ["completed"] * 4
    assert not merged(solo[:2])
    for batched_id, solo_id in zip(batched, solo):
        [(seed, (pixels, parameters))] = rendered(batched_id).items()
        [(solo_seed, (solo_pixels, solo_parameters))] = rendered(solo_id).items()
        assert seed == solo_seed and parameters == solo_parameters
        assert np.abs(pixels - solo_pixels).max() <= 3  # float tolerance of batched math


def test_incompatible_tasks_and_the_limit_split_batches_in_queue_order(api, checkpoint, request, settings):
    settings.SDHOST = {**settings.SDHOST, "MAX_MERGED_BATCH": 3}
    first = [submit(api, checkpoint, seed=i, batch_size=b) for i, b in enumerate((1, 2, 1))]  # 1 + 2 fit, 1 not
    other = submit(api, checkpoint, steps=2)  # other steps: never merged with the others
    request.getfixturevalue("render_worker")
    ids = [*first, other]
    assert [wait_done(task_id) for task_id in ids] == ["completed"] * 4
    tasks = {t.id: t for t in Task.objects.filter(id__in=ids)}
    assert merged(first[:2]) and not merged(first[1:3]) and not merged([first[2], other])
    starts = [tasks[t].started_at for t in ids]
    assert starts == sorted(starts)  # queue order kept
    assert [len(rendered(t)) for t in ids] == [1, 2, 1, 1]


def test_cancelling_one_merged_task_drops_only_its_images(api, checkpoint, request, settings):
    settings.SDHOST = {**settings.SDHOST, "MAX_MERGED_BATCH": 8}
    ids = submit_stream(api, checkpoint, steps=200, width=128, height=128)  # long enough to cancel mid-render
    request.getfixturevalue("render_worker")
    deadline = time.monotonic() + 60
    while Task.objects.filter(id__in=ids, status="running", progress__gt=0).count() < len(ids):
        assert time.monotonic() < deadline, "the merged tasks never all ran"
        time.sleep(0.02)
    snapshot = queue.snapshot()
    assert {entry["id"] for entry in snapshot["current_tasks"]} == set(ids)  # each reports on the stream
    response = api.delete_json("/api/tasks", {"task_ids": [ids[1]]})
    assert response.status_code == 200, response.content
    assert [wait_done(task_id) for task_id in ids] == ["completed", "cancelled", "completed", "completed"]
    assert [len(rendered(task_id)) for task_id in ids] == [1, 0, 1, 1]
