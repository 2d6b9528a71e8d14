"""Measured render speed and the time estimates built on it (`estimated_time`, queue `eta`).

A task's render time is modelled per architecture (the checkpoint's `base_model`) and device as

    seconds = fixed + per_unit × units,   units = steps × megapixels × batch_size

`fixed` covers what does not grow with the denoising work (prompt encoding, pipeline set-up, the
scheduler's per-call overhead); `per_unit` the denoising itself, which scales with steps and pixels.
Both coefficients are fitted to finished tasks by exponentially weighted least squares (older tasks
weigh `FORGETTING` times less per newer one), with a faint pull towards built-in defaults so that
they stay defined while only one task size has been seen; two sizes determine them. The fit and the seconds a
checkpoint switch costs live in one SystemFact (`render_throughput`), so they survive restarts.

The running task's time left comes from its own measured step rate (`LiveEstimate`): the steps
left at the rate measured so far, plus the measured time after the last step (`tail`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from django.db import transaction

from system_app.models import SystemFact

FACT_KEY = "render_throughput"
FORMAT = 2
FORGETTING = 0.9  # weight kept by earlier tasks each time a task finishes (~10 tasks of memory)
SMOOTHING = 0.3  # weight of the newest measurement in the moving averages (load, tail)
PRIOR_WEIGHT = 1e-3  # how strongly the defaults hold the coefficients no task has determined yet
DEFAULT_COEFFICIENTS = (2.0, 0.15)  # fixed s, s per megapixel-step (~ a mid-range GPU on SD1.5)
DEFAULT_LOAD_SECONDS = 5.0
DEFAULT_TAIL_SECONDS = 0.5


def work_units(steps: int, width: int, height: int, batch_size: int) -> float:
    return steps * (width * height / 1_000_000) * batch_size


def features(task) -> np.ndarray:
    return np.array([1.0, work_units(task.steps, task.width, task.height, task.batch_size)])


def architecture(task) -> str:
    """The model family a task's speed depends on: its checkpoint's base model, normalised."""
    checkpoint = getattr(task, "checkpoint", None)
    base = getattr(checkpoint, "base_model", None) if checkpoint is not None else None
    return " ".join((base or "unknown").lower().split())


def format_hms(seconds: float) -> str:
    """HH:MM:SS, rounded up to whole seconds; hours may exceed 99."""
    total = max(0, int(-(-seconds // 1)))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


@dataclass
class SpeedModel:
    """The weighted least-squares state of one (device, architecture): sum of w·x·xᵀ and of w·x·y."""

    xx: list = field(default_factory=lambda: [[0.0, 0.0], [0.0, 0.0]])
    xy: list = field(default_factory=lambda: [0.0, 0.0])
    samples: int = 0
    tail_seconds: float = DEFAULT_TAIL_SECONDS

    def coefficients(self) -> np.ndarray:
        a = np.array(self.xx) + PRIOR_WEIGHT * np.eye(2)
        b = np.array(self.xy) + PRIOR_WEIGHT * np.array(DEFAULT_COEFFICIENTS)
        return np.linalg.solve(a, b)

    def seconds(self, task) -> float:
        return max(float(features(task) @ self.coefficients()), 0.0)

    def add(self, task, seconds: float) -> None:
        x = features(task)
        self.xx = (FORGETTING * np.array(self.xx) + np.outer(x, x)).tolist()
        self.xy = (FORGETTING * np.array(self.xy) + x * seconds).tolist()
        self.samples += 1


@dataclass
class Throughput:
    device: str | None = None  # the device of the last finished task: what estimates assume
    models: dict = field(default_factory=dict)  # "device|architecture" -> SpeedModel
    load_seconds: float = DEFAULT_LOAD_SECONDS
    load_samples: int = 0

    def model(self, task, device: str | None = None) -> SpeedModel:
        """The speed model for `task` on `device` (default: the last used); the device's busiest one if this
        architecture never ran there, else the defaults."""
        device = device or self.device
        found = self.models.get(f"{device}|{architecture(task)}")
        if found is None:
            mine = [m for key, m in self.models.items() if key.split("|", 1)[0] == device]
            found = max(mine, key=lambda m: m.samples) if mine else SpeedModel()
        return found

    def task_seconds(self, task) -> float:
        """Expected render time of a task (steps, width, height, batch_size, checkpoint.base_model)."""
        return self.model(task).seconds(task)

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

    def as_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)})

    @classmethod
    def from_json(cls, text: str) -> "Throughput":
        data = json.loads(text)
        if data.pop("format", None) != FORMAT:  # an older average: only the switch cost carries over
            return cls(load_seconds=data.get("load_seconds", DEFAULT_LOAD_SECONDS),
                       load_samples=data.get("load_samples", 0))
        models = {key: SpeedModel(**value) for key, value in data.pop("models", {}).items()}
        return cls(models=models, **data)


def current() -> Throughput:
    fact = SystemFact.objects.filter(key=FACT_KEY).first()
    if fact is None or not fact.value:
        return Throughput()
    try:
        return Throughput.from_json(fact.value)
    except (TypeError, ValueError, KeyError):
        return Throughput()


def _blend(old: float, new: float, samples: int) -> float:
    return new if samples == 0 else (1 - SMOOTHING) * old + SMOOTHING * new


def record(task, render_seconds: float, load_seconds: float | None = None, *, device: str = "cpu",
           tail_seconds: float | None = None) -> Throughput:
    """Fold one finished task's timings (measured on `device`) into the stored model."""
    with transaction.atomic():
        speed = current()
        key = f"{device}|{architecture(task)}"
        model = speed.models.setdefault(key, SpeedModel())
        if render_seconds > 0:
            if tail_seconds is not None and tail_seconds >= 0:
                model.tail_seconds = _blend(model.tail_seconds, tail_seconds, model.samples)
            model.add(task, render_seconds)
            speed.device = device
        if load_seconds is not None and load_seconds >= 0:
            speed.load_seconds = _blend(speed.load_seconds, load_seconds, speed.load_samples)
            speed.load_samples += 1
        SystemFact.objects.update_or_create(
            key=FACT_KEY,
            defaults={"value": speed.as_json(), "type": "json",
                      "description": "Render speed model used for time estimates"},
        )
    return speed


@dataclass
class LiveEstimate:
    """Progress of the running task as its worker measures it: the fraction done and the seconds left."""

    fraction: float
    seconds_left: float | None


class StepClock:
    """Times one render's denoising steps: the measured rate gives the running task's time left."""

    def __init__(self, expected_seconds: float, tail_seconds: float):
        self.start = time.monotonic()
        self.expected = expected_seconds
        self.tail = tail_seconds
        self.first = None  # (time, steps done) at the first progress callback
        self.last = None

    def step(self, done: int, total: int) -> LiveEstimate:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        self.last = now
        first_time, first_done = self.first
        if done > first_done:
            rate = (now - first_time) / (done - first_done)
            left = rate * (total - done) + self.tail
        else:  # one measurement only: the model's estimate less the time spent
            left = max(self.expected - (now - self.start), self.tail)
        return LiveEstimate(done / total if total else 0.0, left)

    def tail_seconds(self, end: float) -> float | None:
        """Seconds from the last step to `end` (decoding and encoding the images)."""
        return None if self.last is None else max(end - self.last, 0.0)
