"""The task queue in the database: submit, promote, cancel, claim, recover, snapshots.

Ordering is decided by tasks_app.scheduler; this module reads and writes the rows. Every
mutation runs in one write transaction (SQLite IMMEDIATE mode takes the lock up front), so
submissions, promotions and claims from several threads or processes never interleave.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from system_app.models import SystemFact, Tag

from . import throughput
from .models import ACTIVE_STATUSES, NEVER_PROMOTED, Task, TaskModel, TaskTag
from .scheduler import QueueEntry, place_new, start_order

FINISHED_REASONS = {
    "running": "Task already running",
    "completed": "Task already completed",
    "failed": "Task already failed",
    "cancelled": "Task already cancelled",
}


def entry_of(task: Task) -> QueueEntry:
    promoted_at = None if task.promoted_at == NEVER_PROMOTED else task.promoted_at
    return QueueEntry(
        id=task.id, checkpoint=task.checkpoint_id, queue_order=task.queue_order, overtaken=task.overtaken,
        promoted_at=promoted_at, promote_rank=task.promote_rank, resumed=task.resumed,
    )


def pending_tasks() -> list[Task]:
    """Pending tasks in start order (D7)."""
    tasks = {t.id: t for t in Task.objects.filter(status="pending").select_related("checkpoint")}
    return [tasks[e.id] for e in start_order(entry_of(t) for t in tasks.values())]


def positions() -> dict[str, int]:
    """1-based start position of each pending task (D7)."""
    return {task.id: i for i, task in enumerate(pending_tasks(), start=1)}


def running_task() -> Task | None:
    return Task.objects.filter(status="running").select_related("checkpoint").order_by("started_at").first()


def _touch(queryset, **changes) -> int:
    """A bulk update that keeps `updated_at` current."""
    return queryset.update(updated_at=timezone.now(), **changes)


def submit(fields: dict, extras=(), tag_names=()) -> Task:
    """Create a pending task placed by D7. `extras`: (model, weight, control_image) triples."""
    with transaction.atomic():
        entries = [entry_of(t) for t in Task.objects.filter(status="pending")]
        checkpoint = fields["checkpoint"].hash if fields.get("checkpoint") else None  # None: upscale tasks
        placement = place_new(entries, checkpoint, settings.SDHOST["MAX_OVERTAKE"])
        if placement.passed:
            _touch(
                Task.objects.filter(id__in=placement.passed),
                queue_order=F("queue_order") + 1, overtaken=F("overtaken") + 1,
            )
        task = Task.objects.create(status="pending", queue_order=placement.queue_order, **fields)
        TaskModel.objects.bulk_create(
            TaskModel(task=task, model=model, weight=weight, control_image=control_image, position=i)
            for i, (model, weight, control_image) in enumerate(extras)
        )
        TaskTag.objects.bulk_create(TaskTag(task=task, tag=tag) for tag in Tag.objects.named(tag_names))
    return task


def promote(task_ids: list[str]):
    """Move pending tasks to the front in the listed order (D7, D27).

    Returns (updated ids, {id: new position}, [{"task_id", "reason"}]).
    """
    task_ids = list(dict.fromkeys(task_ids))
    updated, failed = [], []
    with transaction.atomic():
        statuses = dict(Task.objects.filter(id__in=task_ids).values_list("id", "status"))
        for task_id in task_ids:
            status = statuses.get(task_id)
            if status == "pending":
                updated.append(task_id)
            else:
                failed.append({"task_id": task_id, "reason": FINISHED_REASONS.get(status, "Task not found")})
        if updated:
            # Strictly later than any earlier promotion, so "latest first" never ties.
            latest = Task.objects.order_by("-promoted_at").values_list("promoted_at", flat=True).first()
            now = max(timezone.now(), (latest or NEVER_PROMOTED) + timedelta(microseconds=1))
            for rank, task_id in enumerate(updated):
                _touch(Task.objects.filter(id=task_id), promoted_at=now, promote_rank=rank)
        new_positions = positions()
    return updated, {task_id: new_positions[task_id] for task_id in updated}, failed


def cancel(task_ids: list[str]):
    """Cancel pending or running tasks (D27). Returns (cancelled ids, running ids among them, failed)."""
    task_ids = list(dict.fromkeys(task_ids))
    cancelled, running, failed = [], [], []
    with transaction.atomic():
        statuses = dict(Task.objects.filter(id__in=task_ids).values_list("id", "status"))
        for task_id in task_ids:
            status = statuses.get(task_id)
            if status in ("pending", "running"):
                cancelled.append(task_id)
                if status == "running":
                    running.append(task_id)
            else:
                reason = "Task not found" if status is None else FINISHED_REASONS[status]
                failed.append({"task_id": task_id, "reason": reason})
        _touch(Task.objects.filter(id__in=cancelled), status="cancelled", resumed=False)
    return cancelled, running, failed


def claim_next() -> Task | None:
    """Atomically mark the first pending task running and return it (None when the queue is empty)."""
    with transaction.atomic():
        for entry in start_order(entry_of(t) for t in Task.objects.filter(status="pending")):
            now = timezone.now()
            if Task.objects.filter(id=entry.id, status="pending").update(
                status="running", resumed=False, started_at=now, updated_at=now,
            ):
                return Task.objects.select_related("checkpoint", "vae").get(id=entry.id)
    return None


def finish(task: Task, status: str, error_message: str | None = None) -> bool:
    """Move a running task to `status`; False when it is no longer running (e.g. cancelled)."""
    now = timezone.now()
    changes = {"status": status, "error_message": error_message}
    if status == "completed":
        changes["completed_at"] = now
    return bool(_touch(Task.objects.filter(id=task.id, status="running"), **changes))


def recover_interrupted() -> list[str]:
    """Put tasks left `running` by a stopped worker back at the front of the queue."""
    with transaction.atomic():
        ids = list(Task.objects.filter(status="running").values_list("id", flat=True))
        _touch(Task.objects.filter(id__in=ids), status="pending", resumed=True)
    return ids


def is_cancelled(task_id: str) -> bool:
    return Task.objects.filter(id=task_id, status="cancelled").exists()


# -- estimates and snapshots ------------------------------------------------------------------

def _fraction(progress: dict | None, task_id) -> float | None:
    """The fraction done in `progress` ({task id: fraction or throughput.LiveEstimate})."""
    value = (progress or {}).get(task_id)
    return value.fraction if isinstance(value, throughput.LiveEstimate) else value


def _running_remaining(running: Task | None, speed, progress: dict | None) -> float:
    """Seconds left of the running task: as its worker measures them, else the model's estimate less time spent."""
    if running is None:
        return 0.0
    live = (progress or {}).get(running.id)
    if isinstance(live, throughput.LiveEstimate) and live.seconds_left is not None:
        return live.seconds_left
    total = speed.task_seconds(running)
    fraction = _fraction(progress, running.id)
    if fraction is not None:
        return total * (1 - fraction)
    elapsed = (timezone.now() - running.started_at).total_seconds() if running.started_at else 0.0
    return max(total - elapsed, 0.0)


def _loaded_checkpoint(running: Task | None):
    if running is not None:
        return running.checkpoint_id
    last = Task.objects.exclude(started_at=None).order_by("-started_at").values_list("checkpoint_id", flat=True)
    return last.first()


_state_cache: dict = {}


def _queue_state():
    """(speed, running task, pending tasks in order, their finish offsets from an idle worker).

    Cached per process until an active task or the measured speed changes (every queue mutation
    bumps `updated_at` or the number of active tasks), so progress snapshots cost two small queries.
    """
    token = Task.objects.filter(status__in=ACTIVE_STATUSES).aggregate(n=Count("id"), at=Max("updated_at"))
    speed_at = SystemFact.objects.filter(key=throughput.FACT_KEY).values_list("updated_at", flat=True).first()
    key = (token["n"], token["at"], speed_at)
    cached = _state_cache.get("value")
    if cached is not None and _state_cache.get("key") == key:
        return cached
    speed = throughput.current()
    running = running_task()
    pending = pending_tasks()
    value = (speed, running, pending, speed.queue_seconds(pending, _loaded_checkpoint(running)))
    _state_cache.update(key=key, value=value)
    return value


def estimates(progress: dict | None = None):
    """(running task or None, its remaining seconds, pending tasks in order, their seconds until done)."""
    speed, running, pending, finish = _queue_state()
    ahead = _running_remaining(running, speed, progress)
    return running, ahead, pending, [ahead + seconds for seconds in finish]


def estimated_time(task_id: str, progress: dict | None = None) -> str:
    """HH:MM:SS until the pending task `task_id` completes."""
    _, _, pending, done_after = estimates(progress)
    for task, seconds in zip(pending, done_after):
        if task.id == task_id:
            return throughput.format_hms(seconds)
    return throughput.format_hms(0)


def model_name(task: Task) -> str:
    """The model a task runs: its checkpoint, or for an upscale task its upscaler (D38)."""
    if task.checkpoint_id is not None:
        return task.checkpoint.name
    return task.upscaler.name if task.upscaler_id is not None else "Lanczos"


def snapshot(progress: dict | None = None) -> dict:
    """The queue stream document (tasks-api.md, D20). `progress`: {running task id: 0..1}."""
    running, remaining, pending, _ = estimates(progress)
    current = None
    if running is not None:
        fraction = _fraction(progress, running.id) or 0.0
        current = {
            "id": running.id, "status": "running", "progress": round(100 * fraction, 1),
            "model": model_name(running), "eta": throughput.format_hms(remaining),
        }
    queue = [
        {"id": task.id, "status": "waiting", "model": model_name(task), "position": i}
        for i, task in enumerate(pending, start=1)
    ]
    return {"current_task": current, "queue": queue, "queue_length": len(queue)}
