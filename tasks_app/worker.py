"""The render worker: claims tasks in queue order, renders them, stores the images.

Compatible tasks right behind the one it starts are claimed with it and rendered as one pipeline
call (cross-task batching, up to SDHOST_MAX_MERGED_BATCH images; docs/queue.md); each keeps its
own images, progress and cancel.

One `RenderWorker` per process holds one RenderEngine (and its pipeline cache). It runs on a
daemon thread, started either by `manage.py serve` (start_in_process) or by
`manage.py runworker render` (tasks_app.consumers). Between tasks it waits for a wake-up: a
direct call from this process's API views, a `render` channel message, or a short database
poll, so a worker in another process also notices new tasks.

Several workers (D41) share one queue: each has a row in `render_workers` (device, loaded
checkpoint, heartbeat; GET /api/health), renews the lease of its running task with every
heartbeat, and recovers tasks whose worker stopped (tasks_app.queue.recover_interrupted). A
cancel reaches the worker through the database, whichever process received the DELETE.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.utils import timezone

from core.sse import publish
from engine import (
    ControlNetSpec,
    EmbeddingSpec,
    FastPaths,
    LoraSpec,
    ModelFile,
    RenderCancelled,
    RenderEngine,
    RenderRequest,
    pick_device,
    random_seed,
)
from engine.engine import batch_key as engine_batch_key
from images_app.models import Image
from images_app.storage import delete_image_file, image_file_path, store_image_bytes
from models_app.storage import model_file_path

from . import queue, throughput
from .image_inputs import engine_inputs, upscale_request
from .models import RenderWorkerState, TaskImage

log = logging.getLogger(__name__)

QUEUE_CHANNEL = "queue"  # SSE channel of queue snapshots
RENDER_CHANNEL = "render"  # Channels channel that wakes the worker
POLL_SECONDS = 2.0
HEARTBEAT_SECONDS = 2.0
PROGRESS_INTERVAL = 0.1  # at most ~10 progress snapshots per second
CANCEL_POLL_INTERVAL = 0.5  # how often a running render checks the database for a cancel


class RenderWorker:
    """Runs the render loop on a daemon thread; see the module docstring."""

    def __init__(self, poll_seconds: float = POLL_SECONDS):
        self.id = uuid.uuid4().hex
        self.poll_seconds = poll_seconds
        self.engine = None
        self.loaded_checkpoint = None  # of the last task rendered: its pipeline sits on the device
        self.progress: dict[str, float] = {}
        self.live: dict[str, throughput.LiveEstimate] = {}  # the running task's fraction and measured time left
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._snapshot_due = threading.Event()
        self._cancel: set[str] = set()
        self._threads: list[threading.Thread] = []

    # -- control --------------------------------------------------------------------------

    def start(self) -> "RenderWorker":
        self._beat()  # registered before its first claim
        threads = ((self._run, "render-worker"), (self._beat_loop, "render-heartbeat"),
                   (self._publish_loop, "render-snapshots"))
        for target, name in threads:
            thread = threading.Thread(target=self._with_db(target), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        self._snapshot_due.set()
        for thread in self._threads:
            thread.join(timeout)
        if not any(t.is_alive() for t in self._threads):
            # gone: a task it left running is recovered at once by any worker
            RenderWorkerState.objects.filter(id=self.id).delete()

    @property
    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads) and not self._stop.is_set()

    def wake(self) -> None:
        self._wake.set()

    def request_cancel(self, task_id: str) -> None:
        self._cancel.add(task_id)

    # -- threads --------------------------------------------------------------------------

    @staticmethod
    def _with_db(target):
        def run():
            try:
                target()
            except Exception:
                log.exception("render worker thread crashed")
            finally:
                connections.close_all()
        return run

    def _beat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._beat()
                self._recover_orphans()
            except Exception:  # e.g. the database restarting: beat again next time
                log.exception("render worker heartbeat failed")

    def _beat(self) -> None:
        """Report this worker alive (device, loaded checkpoint) and renew its task's lease."""
        close_old_connections()
        RenderWorkerState.objects.update_or_create(id=self.id, defaults={
            "host": socket.gethostname(), "pid": os.getpid(), "device": self.device,
            "checkpoint_hash": self.loaded_checkpoint, "heartbeat_at": timezone.now(),
        })
        queue.renew_leases(self.id)

    @property
    def device(self) -> str:
        """The torch device this worker renders on (SDHOST_DEVICE, else the best one present)."""
        return self.engine.device if self.engine is not None else pick_device(settings.SDHOST["DEVICE"])

    def _run(self) -> None:
        self._recover_orphans()
        self.publish()
        while not self._stop.is_set():
            close_old_connections()
            tasks = queue.claim_batch(self.id, self._affinity(), self._merge_limit(), batch_key)
            if not tasks:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self._process(tasks)

    def _affinity(self) -> str | None:
        """The checkpoint to prefer: the loaded one while other workers share the queue (D41); a
        lone worker keeps the announced start order exactly (D7)."""
        if self.loaded_checkpoint and queue.live_workers().exclude(id=self.id).exists():
            return self.loaded_checkpoint
        return None

    def _merge_limit(self) -> int:
        """How many images one pipeline call may render for several tasks (SDHOST_MAX_MERGED_BATCH, else the
        engine's default for its device; 1 turns merging off)."""
        configured = settings.SDHOST["MAX_MERGED_BATCH"]
        return max(1, configured) if configured is not None else self._engine().default_merged_batch()

    def _recover_orphans(self) -> None:
        """Put tasks whose worker stopped back in front of the queue (or fail them, D41)."""
        recovered = queue.recover_interrupted()
        if recovered:
            log.info("Resuming %d interrupted task(s) first: %s", len(recovered), ", ".join(recovered))
            self.publish()
            self.wake()

    # -- one task -------------------------------------------------------------------------

    def _engine(self):
        if self.engine is None:
            cfg = settings.SDHOST
            fast_paths = FastPaths(compile=cfg["COMPILE_UNET"], compile_mode=cfg["COMPILE_MODE"],
                                   compile_backend=cfg["COMPILE_BACKEND"], compile_cache=cfg["COMPILE_CACHE"],
                                   channels_last=cfg["CHANNELS_LAST"], sdpa_backend=cfg["SDPA_BACKEND"])
            self.engine = RenderEngine(device=cfg["DEVICE"], cache_size=cfg["PIPELINE_CACHE_SIZE"],
                                       fast_paths=fast_paths)
        return self.engine

    def _process(self, tasks) -> None:
        """Render the claimed tasks (several only when they share one pipeline call) and store each one's images."""
        started = time.monotonic()
        for task in tasks:
            self.progress[task.id] = 0.0
        self._publish_now()  # every start reaches the streams, however short the render (D41)
        try:
            engine = self._engine()
            loads_before = _checkpoint_loads(engine)
            renders = [_TaskRender(task, self, engine) for task in tasks]
            if tasks[0].kind == "upscale":
                [render] = renders
                results = [[engine.upscale(upscale_request(render.task, model_file), on_progress=render.progress,
                                           should_cancel=render.cancel)]]
            else:
                renders = [render for render in renders if render.build()]
                if not renders:
                    return
                results = engine.render_batch([render.request for render in renders],
                                              [render.progress for render in renders],
                                              [render.cancel for render in renders])
            switched = _checkpoint_loads(engine) > loads_before
            self.loaded_checkpoint = tasks[0].checkpoint_id
            for render, images in zip(renders, results):
                render.timing.finished(switched=switched)
                if images is None:
                    log.info("Task %s cancelled while rendering with others; its images discarded", render.task.id)
                elif store_results(render.task, images) and len(tasks) == 1:
                    # estimates are of a task rendered alone: claim to completion, less a switch
                    finished = time.monotonic()
                    throughput.record(render.task, finished - started - (render.timing.load_seconds or 0.0),
                                      render.timing.load_seconds, device=engine.device,
                                      step_seconds=render.clock.step_seconds,
                                      tail_seconds=render.clock.tail_seconds(finished))
        except RenderCancelled:
            log.info("Task(s) %s cancelled while rendering; partial images discarded",
                     ", ".join(task.id for task in tasks))
        except Exception as exc:  # the tasks fail, the worker goes on
            log.exception("Task(s) %s failed", ", ".join(task.id for task in tasks))
            for task in tasks:
                queue.finish(task, "failed", f"{type(exc).__name__}: {exc}")
        finally:
            for task in tasks:
                self.progress.pop(task.id, None)
                self.live.pop(task.id, None)
                self._cancel.discard(task.id)
            self.publish()

    def _progress_reporter(self, task, timing, clock):
        def report(done: int, total: int) -> None:
            timing.step(done, total)
            self.live[task.id] = clock.step(done, total)
            self.progress[task.id] = done / total if total else 0.0
            self.publish()

        return report

    def _canceller(self, task):
        last = [time.monotonic()]

        def should_cancel() -> bool:
            if task.id in self._cancel or self._stop.is_set():
                return True
            now = time.monotonic()
            if now - last[0] >= CANCEL_POLL_INTERVAL:
                last[0] = now
                # cancelled (by any process) or recovered elsewhere: this task is no longer ours
                return not queue.report_progress(task, self.progress.get(task.id, 0.0))
            return False

        return should_cancel

    def publish(self) -> None:
        """Ask for a queue snapshot to be sent; cheap, so the render loop never waits on it."""
        self._snapshot_due.set()

    def _publish_now(self) -> None:
        """Send the current snapshot from this thread (a task start: once per task, not per step)."""
        try:
            publish(QUEUE_CHANNEL, queue.snapshot({**self.progress, **self.live}))
        except Exception:
            log.exception("could not publish the queue snapshot")

    def _publish_loop(self) -> None:
        """Sends the current snapshot when one is due, at most every PROGRESS_INTERVAL (coalescing)."""
        while True:
            self._snapshot_due.wait()
            if self._stop.is_set():
                return
            self._snapshot_due.clear()
            close_old_connections()
            self._publish_now()
            self._stop.wait(PROGRESS_INTERVAL)


def model_file(model):
    """The engine's ModelFile for a library model."""
    return ModelFile(
        path=str(model_file_path(model)), sha256=model.hash, name=model.name, kind=model.model_type,
        base_model=model.base_model,
    )


def build_request(task):
    """The engine's RenderRequest for a claimed task (seed -1 resolved, model files located)."""
    loras, embeddings, controlnets = [], [], []
    for extra in task.task_models.select_related("model", "control_image").order_by("position"):
        model = extra.model
        weight = 1.0 if extra.weight is None else extra.weight
        if model.model_type == "lora":
            loras.append(LoraSpec(model_file(model), weight=weight))
        elif model.model_type == "embedding":
            words = (model.metadata or {}).get("trigger_words") or []
            token = words[0] if isinstance(words, list) and words and isinstance(words[0], str) else model.name
            embeddings.append(EmbeddingSpec(model_file(model), token=token))
        elif model.model_type == "controlnet":
            if extra.control_image is None:
                raise ValueError(f"The control image of ControlNet {model.name} no longer exists")
            controlnets.append(
                ControlNetSpec(model_file(model), str(image_file_path(extra.control_image)), weight=weight)
            )
    return RenderRequest(
        checkpoint=model_file(task.checkpoint), prompt=task.prompt, negative_prompt=task.negative_prompt or "",
        width=task.width, height=task.height, steps=task.steps, cfg_scale=task.cfg_scale, sampler=task.sampler,
        seed=task.seed if task.seed is not None and task.seed >= 0 else random_seed(),
        batch_size=task.batch_size, vae=model_file(task.vae) if task.vae else None,
        loras=tuple(loras), embeddings=tuple(embeddings), controlnets=tuple(controlnets),
        clip_skip=task.clip_skip,
        **engine_inputs(task, model_file),
    )


def batch_key(task):
    """What must be equal for tasks to render in one pipeline call (engine.batch_key); None: never merged."""
    if task.kind != "render":
        return None
    try:
        return engine_batch_key(build_request(task))
    except Exception:  # a task whose request cannot be built fails when it runs alone
        return None


class _TaskRender:
    """One claimed task within a render: its request, progress reporter, cancel check and timings."""

    def __init__(self, task, worker: RenderWorker, engine):
        self.task = task
        self.request = None
        model = throughput.current().model(task, engine.device)
        self.clock = throughput.StepClock(model.seconds(task), model.tail_seconds)
        self.timing = _Timing()
        self.progress = worker._progress_reporter(task, self.timing, self.clock)
        self.cancel = worker._canceller(task)

    def build(self) -> bool:
        """Build the engine request; a task whose request cannot be built fails alone (False)."""
        try:
            self.request = build_request(self.task)
        except Exception as exc:
            log.exception("Task %s failed", self.task.id)
            queue.finish(self.task, "failed", f"{type(exc).__name__}: {exc}")
            return False
        return True


class _TaskNoLongerRunning(Exception):
    pass


def store_results(task, images) -> bool:
    """Store the rendered PNGs and complete the task in one transaction (False if it was cancelled).

    D4: identical bytes are one image. A re-render of bytes already stored links to the existing
    row, which keeps its first producing task and seed (re-attached only if its task was deleted);
    a TaskImage row lists it among this task's images either way.
    """
    created = []
    try:
        with transaction.atomic():
            links = []
            for rendered in images:
                image, is_new = store_image_bytes(rendered.png, task=task, seed=rendered.seed)
                if is_new:
                    created.append(image)
                elif image.task_id is None:
                    Image.objects.filter(hash=image.hash).update(task=task, seed=rendered.seed)
                links.append(TaskImage(task=task, image=image))
            TaskImage.objects.bulk_create(links, ignore_conflicts=True)  # a batch may repeat bytes
            if not queue.finish(task, "completed"):
                raise _TaskNoLongerRunning
    except _TaskNoLongerRunning:
        for image in created:  # rows rolled back: drop their files too
            delete_image_file(image)
        return False
    except Exception:
        for image in created:
            delete_image_file(image)
        raise
    return True


def _checkpoint_loads(engine) -> int:
    stats = engine.stats()
    return stats.get("disk_loads", 0) + stats.get("ram_hits", 0)


class _Timing:
    """Measures the checkpoint switch time within a render's wall time.

    The first progress call comes after loading, prompt encoding and one step; when the engine
    had to switch checkpoints, the switch cost is that delay minus one average step.
    """

    def __init__(self):
        self.start = time.monotonic()
        self.first_step = None
        self.first_done = 0
        self.total = 0
        self.end = None
        self.switched = False

    def step(self, done: int, total: int) -> None:
        self.total = total
        if self.first_step is None and done > 0:
            self.first_step, self.first_done = time.monotonic(), done

    def finished(self, switched: bool) -> None:
        self.end, self.switched = time.monotonic(), switched

    @property
    def load_seconds(self):
        if not self.switched or self.first_step is None:
            return None
        step = (self.end - self.first_step) / max(self.total - self.first_done, 1)
        return max(self.first_step - self.start - step, 0.0)


# -- the process's worker and its API ---------------------------------------------------------

_worker: RenderWorker | None = None
_worker_lock = threading.Lock()


def start_in_process() -> RenderWorker:
    """Start this process's render worker on a daemon thread (idempotent)."""
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.alive:
            _worker = RenderWorker().start()
        return _worker


def stop_in_process(timeout: float = 30) -> None:
    """Stop this process's worker (tests, shutdown); a running task goes back to pending on next start."""
    global _worker
    with _worker_lock:
        worker, _worker = _worker, None
    if worker is not None:
        worker.stop(timeout)


def worker_is_running() -> bool:
    """Whether a render worker is alive in this or another process."""
    if _worker is not None and _worker.alive:
        return True
    return queue.live_workers().exists()


def current_progress() -> dict[str, float]:
    """{running task id: fraction done} as known to this process's worker."""
    return dict(_worker.progress) if _worker is not None else {}


def current_estimates() -> dict[str, throughput.LiveEstimate]:
    """{running task id: fraction done and measured seconds left} as known to this process's worker."""
    return dict(_worker.live) if _worker is not None else {}


def wake() -> None:
    """Tell the worker the queue changed: directly in this process, else over the `render` channel."""
    if _worker is not None and _worker.alive:
        _worker.wake()
        return
    layers = settings.CHANNEL_LAYERS.get("default", {})
    if "InMemory" in layers.get("BACKEND", ""):
        return  # no other process can hear it; a worker elsewhere notices by polling the database
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        async_to_sync(get_channel_layer().send)(RENDER_CHANNEL, {"type": "render.wake"})
    except Exception:
        log.warning("could not send a wake-up on the %s channel", RENDER_CHANNEL, exc_info=True)


def request_cancel(task_ids) -> None:
    """Interrupt running tasks at their next step (the database status is already `cancelled`)."""
    if _worker is not None:
        for task_id in task_ids:
            _worker.request_cancel(task_id)


def queue_changed() -> None:
    """After a submit, cancel or promote: publish a snapshot and wake the worker."""
    transaction.on_commit(_announce)


def _announce() -> None:
    try:
        publish(QUEUE_CHANNEL, queue.snapshot(current_estimates()))
    except Exception:
        log.exception("could not publish the queue snapshot")
    wake()
