"""The process's render worker and the API the rest of the product uses: start and stop it, wake it, tell it
of cancels, read its progress, announce queue changes.

One `RenderWorker` (tasks_app.render_loop) runs per process, started either by `manage.py serve`
(start_in_process) or by `manage.py runworker render` (tasks_app.consumers). What it renders is built by
tasks_app.render_requests and stored by tasks_app.results.
"""

from __future__ import annotations

import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from core.sse import publish

from . import queue, throughput
from .render_loop import QUEUE_CHANNEL, RENDER_CHANNEL, RenderWorker

__all__ = ["QUEUE_CHANNEL", "RENDER_CHANNEL", "RenderWorker", "current_estimates", "current_progress",
           "queue_changed", "request_cancel", "start_in_process", "stop_in_process", "wake", "worker_is_running"]

log = logging.getLogger(__name__)

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
    """{running task id: fraction done, measured seconds left and phase} as known to this process's worker."""
    return _worker.estimates() if _worker is not None else {}


def wake() -> None:
    """Tell the worker the queue changed: directly in this process, else over the `render` channel."""
    if _worker is not None and _worker.alive:
        _worker.wake()
        return
    layers = settings.CHANNEL_LAYERS.get("default", {})
    if "InMemory" in layers.get("BACKEND", ""):
        return  # no other process can hear it; a worker elsewhere notices by polling the database
    try:
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
