"""The render worker's loop: claims tasks in queue order, renders them, stores the images.

Compatible tasks right behind the one it starts are claimed with it and rendered as one pipeline
call (cross-task batching, up to SDHOST_MAX_MERGED_BATCH images; docs/queue.md): their batch
signatures, stored when they were submitted (tasks_app.render_requests), are equal. Each keeps its
own images, progress and cancel through its `TaskHandle`.

A `RenderWorker` holds one RenderEngine (and its pipeline cache) and runs on daemon threads: the
render loop, the heartbeat and the snapshot publisher. Between tasks it waits for a wake-up (a
direct call, a `render` channel message) or a short database poll, so a worker in another process
also notices new tasks. Several workers (D41) share one queue: each has a row in `render_workers`
(device, loaded checkpoint, heartbeat; GET /api/health), renews the lease of its running task with
every heartbeat, and recovers tasks whose worker stopped (tasks_app.queue.recover_interrupted). A
cancel reaches the worker through the database, whichever process received the DELETE.

Errors never end the worker (issue 23): a task whose render or storing fails is failed with the reason; an
outcome the database refuses to record (a full disk) is kept and recorded again before anything new is claimed;
a render loop step that fails (the database away) is retried with a growing pause, and while it has failed for
longer than WORKER_STALE the worker drops its `render_workers` row instead of beating, so /api/health and
`manage.py doctor` no longer count it alive and any worker recovers its tasks; a progress write that fails leaves the render going. Should one of its
threads end all the same, the heartbeat and the render loop start it again (the tasks the render loop held are
failed), so `alive` and the heartbeat in /api/health stay true.

The process's one worker and the API the views use live in tasks_app.worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from core.errors import is_disk_full
from core.sse import publish
from engine.engine import RenderEngine, pick_device
from engine.errors import RenderCancelled
from engine.fast_paths import FastPaths

from . import previews, queue, throughput
from .image_inputs import upscale_request
from .models import RenderWorkerState
from .render_requests import build_request, model_file
from .results import store_results

log = logging.getLogger(__name__)

QUEUE_CHANNEL = "queue"  # SSE channel of queue snapshots
RENDER_CHANNEL = "render"  # Channels channel that wakes the worker
POLL_SECONDS = 2.0
HEARTBEAT_SECONDS = 2.0
PROGRESS_INTERVAL = 0.1  # at most ~10 progress snapshots per second
CANCEL_POLL_INTERVAL = 0.5  # how often a running render checks the database for a cancel
RETRY_SECONDS = (0.5, 10.0)  # a failing render loop step is retried after 0.5 s, doubling up to 10 s
LOOP_THREAD = "render-worker"


class RenderWorker:
    """Runs the render loop on a daemon thread; see the module docstring."""

    def __init__(self, poll_seconds: float = POLL_SECONDS):
        self.id = uuid.uuid4().hex
        self.poll_seconds = poll_seconds
        self.engine = None
        self.loaded_checkpoint = None  # of the last task rendered: its pipeline sits on the device
        self.progress: dict[str, float] = {}
        self.live: dict[str, throughput.LiveEstimate] = {}  # the running task's fraction and measured time left
        # tasks waiting for their checkpoint to load: {task id: (time.monotonic() at the start, expected load
        # seconds, expected render seconds)}, until their first step
        self.loading: dict[str, tuple[float, float, float]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._snapshot_due = threading.Event()
        self._cancel: set[str] = set()
        self._targets = {LOOP_THREAD: self._run, "render-heartbeat": self._beat_loop,
                         "render-snapshots": self._publish_loop}
        self._threads: dict[str, threading.Thread] = {}
        self._threads_lock = threading.Lock()
        self.restarts = 0  # threads started again after they ended unexpectedly
        # tasks the render loop claimed and has not settled yet; failed should its thread end
        self._claimed: dict[str, object] = {}
        # {task id: (task, status, error message)}: outcomes the database refused to record yet
        self._unsettled: dict[str, tuple] = {}
        self._settle_lock = threading.Lock()
        self.failing_since: float | None = None  # time.monotonic() of the render loop's first failure in a row
        self._reported_stopped = False

    # -- control --------------------------------------------------------------------------

    def start(self) -> "RenderWorker":
        self._beat()  # registered before its first claim
        with self._threads_lock:
            for name in self._targets:
                self._spawn(name)
        return self

    def _spawn(self, name: str) -> None:
        thread = threading.Thread(target=self._with_db(self._targets[name]), name=name, daemon=True)
        self._threads[name] = thread
        thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        self._snapshot_due.set()
        with self._threads_lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
        if not any(t.is_alive() for t in threads):
            # gone: a task it left running is recovered at once by any worker
            RenderWorkerState.objects.filter(id=self.id).delete()

    @property
    def alive(self) -> bool:
        """Not stopped, and its render loop or its heartbeat runs (each starts the other again should it end)."""
        threads = (self._threads.get(LOOP_THREAD), self._threads.get("render-heartbeat"))
        return not self._stop.is_set() and any(t is not None and t.is_alive() for t in threads)

    def wake(self) -> None:
        self._wake.set()

    def estimates(self) -> dict[str, throughput.LiveEstimate]:
        """{running task id: its live estimate}: the measured one once it renders, while its checkpoint loads
        the `loading` phase with the measured switch time left plus the render's estimate."""
        now = time.monotonic()
        found = {task_id: throughput.loading_estimate(now - since, load, render)
                 for task_id, (since, load, render) in list(self.loading.items())}
        return {**found, **self.live}

    def request_cancel(self, task_id: str) -> None:
        self._cancel.add(task_id)

    def cancel_requested(self, task_id: str) -> bool:
        """A cancel of `task_id` reached this process, or the worker is stopping."""
        return task_id in self._cancel or self._stop.is_set()

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

    def supervise(self) -> None:
        """Start again any thread of this worker that ended while the worker was not stopped (an error that
        escaped it). The tasks an ended render loop held are failed: nothing would ever finish them."""
        with self._threads_lock:
            for name, thread in list(self._threads.items()):
                if thread.is_alive() or self._stop.is_set():
                    continue
                self.restarts += 1
                log.error("The render worker's %s thread ended unexpectedly; starting it again (restart %d)",
                          name, self.restarts)
                if name == LOOP_THREAD:
                    held = list(self._claimed.values())
                    self._claimed.clear()
                    self.progress.clear()
                    self.live.clear()
                    self.loading.clear()
                    self.settle(held, "failed", "The render worker's loop ended unexpectedly while rendering this "
                                                "task (see the worker's log); it was started again")
                self._spawn(name)

    def _beat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.supervise()
                if self._loop_failing():
                    self._report_stopped()
                    continue
                self._beat()
                self._recover_orphans()
            except Exception:  # e.g. the database restarting: beat again next time
                log.exception("render worker heartbeat failed")

    def _report_stopped(self) -> None:
        """Drop this worker's row while its render loop fails: GET /api/health and doctor no longer count it
        alive, and any worker recovers its tasks; its next heartbeat after a success registers it again."""
        RenderWorkerState.objects.filter(id=self.id).delete()
        if not self._reported_stopped:
            self._reported_stopped = True
            log.error("The render loop has failed for over %.0f s: this worker is reported stopped until it "
                      "works again", queue.WORKER_STALE.total_seconds())

    def _loop_failing(self) -> bool:
        """Whether the render loop has failed for longer than a worker may stay silent (queue.WORKER_STALE)."""
        since = self.failing_since
        return since is not None and time.monotonic() - since > queue.WORKER_STALE.total_seconds()

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
        started, failures = False, 0
        while not self._stop.is_set():
            try:
                close_old_connections()
                if not started:
                    self._recover_orphans()
                    previews.discard_except(task.id for task in queue.running_tasks())
                    self.publish()
                    started = True
                self.supervise()
                self._record_unsettled()  # before anything new: what the last render left unrecorded
                tasks = queue.claim_batch(self.id, self._affinity(), self._merge_limit())
                failures, self.failing_since, self._reported_stopped = 0, None, False
            except Exception:  # a full disk, the database away: the worker waits and tries again
                failures += 1
                self.failing_since = self.failing_since or time.monotonic()
                pause = min(RETRY_SECONDS[0] * 2 ** (failures - 1), RETRY_SECONDS[1])
                log.exception("The render loop failed (%d time(s) in a row); trying again in %.1f s", failures, pause)
                self._stop.wait(pause)
                continue
            if not tasks:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self._claimed.update((task.id, task) for task in tasks)
            self._process(tasks)

    def settle(self, tasks, status: str, error_message: str | None = None) -> None:
        """Record the outcome of tasks this worker ran. What the database refuses now (a full disk) is kept and
        recorded by the render loop before it claims anything new; meanwhile the tasks stay `running`."""
        with self._settle_lock:
            for task in tasks:
                self._claimed.pop(task.id, None)
                self._unsettled[task.id] = (task, status, error_message)
        try:
            self._record_unsettled()
        except Exception as exc:
            log.error("Could not record task(s) %s as %s (%s: %s); trying again before the next task",
                      ", ".join(task.id for task in tasks), status, type(exc).__name__, exc)

    def _record_unsettled(self) -> None:
        """Record the kept outcomes (raises what the database raises; the rest stay kept)."""
        with self._settle_lock:
            for task_id, (task, status, error_message) in list(self._unsettled.items()):
                queue.finish(task, status, error_message)  # False: cancelled or recovered meanwhile, not ours
                del self._unsettled[task_id]

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
        cold = tasks[0].checkpoint_id is not None and (
            self.engine is None or self.engine.stats()["loaded"] != tasks[0].checkpoint_id)
        for task in tasks:
            self.progress[task.id] = 0.0
        try:
            engine = self._engine()
            loads_before = _checkpoint_loads(engine)
            renders = [TaskHandle(task, self, engine.device, cold) for task in tasks]
            self._publish_now()  # every start reaches the streams, however short the render (D41)
            if tasks[0].kind == "upscale":
                [render] = renders
                results = [[engine.upscale(upscale_request(render.task, model_file), on_progress=render.report,
                                           should_cancel=render.should_cancel)]]
            else:
                renders = [render for render in renders if render.build()]
                if not renders:
                    return
                results = engine.render_batch([render.request for render in renders],
                                              [render.report for render in renders],
                                              [render.should_cancel for render in renders],
                                              [render.preview for render in renders], previews.preview_settings())
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
                self._release([render.task])
        except RenderCancelled:  # cancelled in the database, recovered elsewhere, or the worker stops
            log.info("Task(s) %s cancelled while rendering; partial images discarded",
                     ", ".join(task.id for task in tasks))
            self._release(tasks)
        except Exception as exc:  # the tasks fail, the worker goes on
            log.exception("Task(s) %s failed", ", ".join(task.id for task in tasks))
            self.settle(tasks, "failed", failure_message(exc))  # those completed meanwhile stay completed
        finally:
            for task in tasks:
                self.progress.pop(task.id, None)
                self.live.pop(task.id, None)
                self.loading.pop(task.id, None)
                self._cancel.discard(task.id)
                previews.discard(task.id)
            self.publish()

    def _release(self, tasks) -> None:
        """Tasks settled (or no longer this worker's): an ended render loop leaves them alone."""
        for task in tasks:
            self._claimed.pop(task.id, None)

    def publish(self) -> None:
        """Ask for a queue snapshot to be sent; cheap, so the render loop never waits on it."""
        self._snapshot_due.set()

    def _publish_now(self) -> None:
        """Send the current snapshot from this thread (a task start: once per task, not per step)."""
        try:
            publish(QUEUE_CHANNEL, queue.snapshot({**self.progress, **self.estimates()}))
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


class TaskHandle:
    """One claimed task within a render: the engine's progress and cancel callbacks (`report`,
    `should_cancel`), its RenderRequest and its timings."""

    def __init__(self, task, worker: RenderWorker, device: str, cold: bool = False):
        """`cold`: the task's checkpoint is not on the device, so the render starts with loading it (the
        `loading` phase, estimated from the measured switch time, until the first step)."""
        self.task, self.worker = task, worker
        self.request = None
        speed = throughput.current()
        model = speed.model(task, device)
        self.clock = throughput.StepClock(model.seconds(task), model.tail_seconds)
        if cold:
            worker.loading[task.id] = (time.monotonic(), speed.load_seconds, model.seconds(task))
        self.timing = _Timing()
        self._last_poll = time.monotonic()
        self._progress_failing = False
        self._preview_failing = False

    def build(self) -> bool:
        """Build the engine request; a task whose request cannot be built fails alone (False)."""
        try:
            self.request = build_request(self.task)
        except Exception as exc:
            log.exception("Task %s failed", self.task.id)
            self.worker.settle([self.task], "failed", failure_message(exc))
            return False
        return True

    def report(self, done: int, total: int) -> None:
        """Progress from the engine: `done` of `total` steps."""
        self.timing.step(done, total)
        if self.worker.loading.pop(self.task.id, None) is not None:
            self.clock.start = time.monotonic()  # the render's own estimate starts after the load
        self.worker.live[self.task.id] = self.clock.step(done, total)
        self.worker.progress[self.task.id] = done / total if total else 0.0
        self.worker.publish()

    def preview(self, frame) -> None:
        """A live preview from the engine (engine.previews.PreviewFrame): stored for GET /api/tasks/{id}/preview,
        announced by the next queue snapshot. A preview that cannot be stored leaves the render going."""
        try:
            previews.write(self.task.id, frame.sequence, frame.images)
        except OSError as exc:
            if not self._preview_failing:
                log.warning("Task %s: its preview could not be stored (%s); rendering on", self.task.id, exc)
            self._preview_failing = True
            return
        self.worker.publish()

    def should_cancel(self) -> bool:
        """True once the task was cancelled (by any process), recovered elsewhere, or the worker stops."""
        if self.worker.cancel_requested(self.task.id):
            return True
        now = time.monotonic()
        if now - self._last_poll >= CANCEL_POLL_INTERVAL:
            self._last_poll = now
            self.worker.supervise()  # a long render: an ended heartbeat is not left until the render ends
            try:
                # cancelled (by any process) or recovered elsewhere: this task is no longer ours
                return not queue.report_progress(self.task, self.worker.progress.get(self.task.id, 0.0))
            except DatabaseError as exc:  # a full disk, the database away: the render goes on regardless
                if not self._progress_failing:
                    log.warning("Task %s: its progress could not be stored (%s); rendering on", self.task.id, exc)
                self._progress_failing = True
        return False


def failure_message(exc: Exception) -> str:
    """A failed task's error message: the exception, prefixed with the cause when the disk is full."""
    text = f"{type(exc).__name__}: {exc}"
    if is_disk_full(exc):
        return f"The disk is full: free space (for example delete images or models) and submit it again ({text})"
    return text


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
