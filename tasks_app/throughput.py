"""Measured render speed and the time estimates built on it (`estimated_time`, queue `eta`).

Speed is kept as seconds per work unit, a unit being one denoising step of one megapixel of one
image, plus the seconds a checkpoint switch costs. Both are exponential moving averages over
finished tasks, persisted as one SystemFact (`render_throughput`) so they survive restarts;
the first measurement replaces the built-in default outright.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from django.db import transaction

from system_app.models import SystemFact

FACT_KEY = "render_throughput"
SMOOTHING = 0.3  # weight of the newest measurement
DEFAULT_SECONDS_PER_UNIT = 0.15  # ~ a mid-range GPU on SD1.5
DEFAULT_LOAD_SECONDS = 5.0


def work_units(steps: int, width: int, height: int, batch_size: int) -> float:
    return steps * (width * height / 1_000_000) * batch_size


def task_units(task) -> float:
    """A task's work units: the steps it denoises (img2img: ceil(steps x strength); hires: both passes) per
    megapixel; an upscale task counts as one step at its result size."""
    from tasks_app.engine.img2img import denoising_steps

    if getattr(task, "kind", "render") == "upscale":
        return work_units(1, task.width, task.height, 1)
    steps = task.steps
    if getattr(task, "denoising_strength", None) is not None:
        steps = denoising_steps(task.steps, task.denoising_strength)
    units = work_units(steps, task.width, task.height, task.batch_size)
    hires = getattr(task, "hires", None)
    if hires:
        second = denoising_steps(hires["steps"] or task.steps, hires["denoising_strength"])
        units += work_units(second, hires["width"], hires["height"], task.batch_size)
    return units


def format_hms(seconds: float) -> str:
    """HH:MM:SS, rounded up to whole seconds; hours may exceed 99."""
    total = max(0, int(-(-seconds // 1)))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


@dataclass
class Throughput:
    seconds_per_unit: float = DEFAULT_SECONDS_PER_UNIT
    load_seconds: float = DEFAULT_LOAD_SECONDS
    render_samples: int = 0
    load_samples: int = 0

    def task_seconds(self, task) -> float:
        """Expected render time of a task (anything with steps, width, height, batch_size)."""
        return self.seconds_per_unit * task_units(task)

    def queue_seconds(self, tasks, loaded_checkpoint=None) -> list[float]:
        """Cumulative finish times of `tasks` run in order, from an idle worker holding `loaded_checkpoint`."""
        finish, elapsed, loaded = [], 0.0, loaded_checkpoint
        for task in tasks:
            if task.checkpoint_id != loaded:
                elapsed += self.load_seconds
                loaded = task.checkpoint_id
            elapsed += self.task_seconds(task)
            finish.append(elapsed)
        return finish


def current() -> Throughput:
    fact = SystemFact.objects.filter(key=FACT_KEY).first()
    if fact is None or not fact.value:
        return Throughput()
    try:
        return Throughput(**json.loads(fact.value))
    except (TypeError, ValueError):
        return Throughput()


def _blend(old: float, new: float, samples: int) -> float:
    return new if samples == 0 else (1 - SMOOTHING) * old + SMOOTHING * new


def record(task, render_seconds: float, load_seconds: float | None = None) -> Throughput:
    """Fold one finished task's timings into the stored averages."""
    units = task_units(task)
    with transaction.atomic():
        speed = current()
        if units > 0 and render_seconds > 0:
            speed.seconds_per_unit = _blend(speed.seconds_per_unit, render_seconds / units, speed.render_samples)
            speed.render_samples += 1
        if load_seconds is not None and load_seconds >= 0:
            speed.load_seconds = _blend(speed.load_seconds, load_seconds, speed.load_samples)
            speed.load_samples += 1
        SystemFact.objects.update_or_create(
            key=FACT_KEY,
            defaults={
                "value": json.dumps(asdict(speed)), "type": "json",
                "description": "Render speed averages used for time estimates",
            },
        )
    return speed
