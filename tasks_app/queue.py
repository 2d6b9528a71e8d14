"""The task queue in the database: submit, promote, cancel, claim, recover, snapshots.

Ordering is decided by tasks_app.scheduler; this module reads and writes the rows. Every
mutation runs in one write transaction (SQLite IMMEDIATE mode takes the lock up front), so
submissions, promotions and claims from several threads or processes never interleave. On
PostgreSQL a claim locks only the row it takes (`SELECT ... FOR UPDATE SKIP LOCKED`), and the
conditional `UPDATE ... WHERE status = 'pending'` makes a second claimer of the same row get none.

Several workers (D41): a claimed task carries its worker's id and a lease the worker renews
(`renew_leases`); `recover_interrupted` puts tasks whose lease expired or whose worker is gone
back in front of the queue, or fails them once they used up their attempts.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from core.writes import write_transaction
from system_app.models import SystemFact, Tag

from . import previews, throughput
from .models import ACTIVE_STATUSES, NEVER_PROMOTED, RenderWorkerState, Task, TaskModel, TaskTag
from .render_requests import batch_signature
from .scheduler import QueueEntry, pick_batch, place_new, start_order

WORKER_STALE = timedelta(seconds=10)  # a worker silent this long is gone

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
        promoted_at=promoted_at, promote_rank=task.promote_rank, resumed=task.resumed, images=task.batch_size,
        signature=task.batch_signature,
    )


def pending_tasks() -> list[Task]:
    """Pending tasks in start order (D7)."""
    tasks = {t.id: t for t in Task.objects.filter(status="pending").select_related("checkpoint")}
    return [tasks[e.id] for e in start_order(entry_of(t) for t in tasks.values())]


def positions() -> dict[str, int]:
    """1-based start position of each pending task (D7)."""
    return {task.id: i for i, task in enumerate(pending_tasks(), start=1)}


def running_tasks() -> list[Task]:
    """Running tasks, earliest started first."""
    return list(Task.objects.filter(status="running").select_related("checkpoint").order_by("started_at", "id"))


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
        task.batch_signature = batch_signature(task)  # its models are linked now
        if task.batch_signature is not None:
            Task.objects.filter(id=task.id).update(batch_signature=task.batch_signature)
    return task


def promote(task_ids: list[str]):
    """Move pending tasks to the front in the listed order (D7, D27).

    Returns (updated ids, {id: new position}, [{"task_id", "reason"}]).
    """
    task_ids = list(dict.fromkeys(task_ids))

    def write():
        updated, failed = [], []
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

    return write_transaction(write)


def cancel(task_ids: list[str]):
    """Cancel pending or running tasks (D27). Returns (cancelled ids, running ids among them, failed)."""
    task_ids = list(dict.fromkeys(task_ids))

    def write():
        cancelled, running, failed = [], [], []
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

    return write_transaction(write)


def claim_next(worker_id: str | None = None, loaded_checkpoint: str | None = None) -> Task | None:
    """Atomically mark the next pending task running for `worker_id` and return it (None when the
    queue is empty). A worker holding `loaded_checkpoint` prefers its tasks within D7's bound."""
    claimed = claim_batch(worker_id, loaded_checkpoint)
    return claimed[0] if claimed else None


def claim_batch(worker_id: str | None = None, loaded_checkpoint: str | None = None,
                max_images: int = 1) -> list[Task]:
    """Atomically mark the next pending task running for `worker_id`, with the tasks right behind it that
    render in the same pipeline call (scheduler.pick_batch: equal stored batch signatures, at most `max_images`
    images in all); [] when the queue is empty. Every claimed task gets its own lease."""
    lease = timedelta(seconds=settings.SDHOST["TASK_LEASE_SECONDS"])
    with transaction.atomic():
        entries = [entry_of(t) for t in Task.objects.filter(status="pending")]
        while (pick := pick_batch(entries, loaded_checkpoint, settings.SDHOST["MAX_OVERTAKE"],
                                  max_images)) is not None:
            claimed = []
            for task_id in pick.ids:
                # SKIP LOCKED (PostgreSQL; SQLite's IMMEDIATE transaction already excludes everyone):
                # a row another worker is claiming right now is left to it, and ends a batch there.
                free = Task.objects.select_for_update(skip_locked=True).filter(id=task_id, status="pending")
                now = timezone.now()
                if not (list(free.values_list("id", flat=True)) and Task.objects.filter(
                        id=task_id, status="pending").update(
                        status="running", resumed=False, started_at=now, updated_at=now, worker_id=worker_id,
                        lease_expires_at=now + lease, attempts=F("attempts") + 1, progress=0.0)):
                    break
                claimed.append(task_id)
            if claimed:
                if pick.passed:
                    _touch(Task.objects.filter(id__in=pick.passed, status="pending"),
                           overtaken=F("overtaken") + len(claimed))
                found = Task.objects.select_related("checkpoint", "vae").in_bulk(claimed)
                return [found[task_id] for task_id in claimed]
            entries = [e for e in entries if e.id != pick.id]
    return []


def holds(task: Task):
    """The row of `task` while it is still running under the worker that claimed it."""
    return Task.objects.filter(id=task.id, status="running", worker_id=task.worker_id)


def finish(task: Task, status: str, error_message: str | None = None) -> bool:
    """Move a running task to `status`; False when it is no longer running under its worker
    (cancelled, or recovered after its lease expired)."""
    now = timezone.now()
    changes = {"status": status, "error_message": error_message, "lease_expires_at": None}
    if status == "completed":
        changes["completed_at"] = now
    return bool(_touch(holds(task), **changes))


def renew_leases(worker_id: str) -> int:
    """Extend the leases of the tasks `worker_id` runs (its heartbeat); the number renewed."""
    until = timezone.now() + timedelta(seconds=settings.SDHOST["TASK_LEASE_SECONDS"])
    return Task.objects.filter(status="running", worker_id=worker_id).update(lease_expires_at=until)


def report_progress(task: Task, fraction: float) -> bool:
    """Store a running task's progress for other processes' streams; False when it is no longer ours."""
    return bool(holds(task).update(progress=fraction))


def live_workers():
    """Workers that reported within WORKER_STALE."""
    return RenderWorkerState.objects.filter(heartbeat_at__gte=timezone.now() - WORKER_STALE)


def recover_interrupted() -> list[str]:
    """Tasks left `running` by a stopped worker (lease expired, worker gone or unknown) go back to
    the front of the queue (`resumed`), or fail once they were started SDHOST_TASK_MAX_ATTEMPTS
    times. Returns the ids put back."""
    now = timezone.now()
    budget = settings.SDHOST["TASK_MAX_ATTEMPTS"]
    with transaction.atomic():
        lost = Task.objects.select_for_update(skip_locked=True).filter(status="running").filter(
            Q(lease_expires_at__lt=now) | Q(worker_id=None) | ~Q(worker_id__in=live_workers().values("id"))
        )
        rows = list(lost.values_list("id", "attempts"))
        resumed = [task_id for task_id, attempts in rows if attempts < budget]
        failed = [task_id for task_id, attempts in rows if attempts >= budget]
        _touch(Task.objects.filter(id__in=resumed), status="pending", resumed=True, worker_id=None,
               lease_expires_at=None, progress=0.0)
        _touch(Task.objects.filter(id__in=failed), status="failed", worker_id=None, lease_expires_at=None, error_message=(
            f"Interrupted {budget} times: the worker running it stopped renewing its lease (crash or power loss); "
            "not retried again"
        ))
    return resumed


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
    """(speed, running tasks, pending tasks in order, their finish offsets from an idle worker).

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
    running = running_tasks()
    pending = pending_tasks()
    first = running[0] if running else None
    value = (speed, running, pending, speed.queue_seconds(pending, _loaded_checkpoint(first)))
    _state_cache.update(key=key, value=value)
    return value


def estimates(progress: dict | None = None):
    """(first running task or None, its remaining seconds, pending tasks in order, their seconds until done).

    With several workers this is the one-worker estimate: an upper bound."""
    speed, running, pending, finish = _queue_state()
    first = running[0] if running else None
    ahead = _running_remaining(first, speed, progress)
    return first, ahead, pending, [ahead + seconds for seconds in finish]


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


def _reported_progress(running: list[Task], progress: dict | None) -> dict:
    """{running task id: fraction or LiveEstimate}: this process's worker's numbers, else what other workers
    stored."""
    stored = Task.objects.filter(id__in=[task.id for task in running], status="running", progress__gt=0)
    return {**dict(stored.values_list("id", "progress")), **(progress or {})} if running else dict(progress or {})


def _phase(progress: dict, task_id) -> str:
    """`loading` while the task's worker loads its checkpoint (known to the worker's process), else `rendering`."""
    value = progress.get(task_id)
    return value.phase if isinstance(value, throughput.LiveEstimate) else throughput.RENDERING


def _preview_fields(task_id: str) -> dict:
    """`preview`: the number of the running task's newest live preview (grows with each one; null when none),
    `preview_url`: where to fetch it (GET /api/tasks/{id}/preview), null when none."""
    found = previews.latest(task_id)
    if found is None:
        return {"preview": None, "preview_url": None}
    return {"preview": found[0], "preview_url": f"/api/tasks/{task_id}/preview"}


def snapshot(progress: dict | None = None) -> dict:
    """The queue stream document (tasks-api.md, D20, D41). `progress`: {running task id: fraction or
    LiveEstimate} known to this process. `current_tasks` lists every running task; `current_task` is the
    first of them."""
    speed, running, pending, _ = _queue_state()
    reported = _reported_progress(running, progress)
    current = [
        {
            "id": task.id, "status": "running", "progress": round(100 * (_fraction(reported, task.id) or 0.0), 1),
            "model": model_name(task), "eta": throughput.format_hms(_running_remaining(task, speed, reported)),
            "phase": _phase(reported, task.id), **_preview_fields(task.id),
        }
        for task in running
    ]
    queue = [
        {"id": task.id, "status": "waiting", "model": model_name(task), "position": i}
        for i, task in enumerate(pending, start=1)
    ]
    return {"current_task": current[0] if current else None, "current_tasks": current, "queue": queue,
            "queue_length": len(queue)}
