"""Measured render speed and the time estimates built on it (`estimated_time`, queue `eta`).

A task's render time is modelled per architecture (the checkpoint's `base_model`) and device as

    seconds = fixed + Σ over passes steps × step_seconds,
    step_seconds = per_step + per_megapixel × width × height / 10^6 × batch

(`passes`: img2img denoises ceil(steps × strength) steps, a hires fix adds its second pass at the final size,
an upscale task counts as one step at its result size).

`fixed` is the time of a task outside the denoising loop (prompt encoding, VAE decoding, PNG
encoding, storing the images);
`step_seconds` the measured time of one denoising step, which grows with the pixels of the batch.
The worker measures both for every finished task (its step rate from the progress callbacks), so
`fixed` is a moving average and `per_step`/`per_megapixel` come from an exponentially weighted
least-squares fit of step time against megapixels (older tasks weigh `FORGETTING` times less per
newer one), with a faint pull towards built-in defaults so that they stay defined while one image
size has been seen; two sizes determine everything. The model and the seconds a checkpoint switch
costs live in one SystemFact (`render_throughput`), so they survive restarts.

The running task's time left comes from its own measured step rate (`LiveEstimate`): the steps
left at the rate measured so far, plus the measured time after the last step (`tail`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from django.db import transaction

from engine.img2img import denoising_steps
from system_app.models import SystemFact

FACT_KEY = "render_throughput"
FORMAT = 2
FORGETTING = 0.9  # weight kept by earlier tasks each time a task finishes (~10 tasks of memory)
SMOOTHING = 0.3  # weight of the newest measurement in the moving averages (load, tail)
PRIOR_WEIGHT = 1e-3  # how strongly the defaults hold the coefficients no task has determined yet
DEFAULT_FIXED_SECONDS = 2.0
DEFAULT_STEP_COEFFICIENTS = (0.0, 0.15)  # s per step, s per megapixel-step (~ a mid-range GPU on SD1.5)
DEFAULT_LOAD_SECONDS = 5.0
DEFAULT_TAIL_SECONDS = 0.5


def megapixels(task) -> float:
    """The pixels one denoising step of `task`'s first pass works on, in megapixels (the whole batch)."""
    return task.width * task.height / 1_000_000 * task.batch_size


def passes(task) -> list[tuple[int, float]]:
    """(denoising steps, megapixels of the batch) of each pass `task` runs."""
    if getattr(task, "kind", "render") == "upscale":
        return [(1, megapixels(task))]
    steps = task.steps
    if getattr(task, "denoising_strength", None) is not None:
        steps = denoising_steps(task.steps, task.denoising_strength)
    runs = [(steps, megapixels(task))]
    hires = getattr(task, "hires", None)
    if hires:
        second = denoising_steps(hires["steps"] or task.steps, hires["denoising_strength"])
        runs.append((second, hires["width"] * hires["height"] / 1_000_000 * task.batch_size))
    return runs


def total_steps(task) -> int:
    return sum(steps for steps, _ in passes(task))


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
    """One (device, architecture): the moving-average fixed time, and the weighted least-squares state of
    step time against megapixels (sums of w·x·xᵀ and w·x·y, x = (1, megapixels))."""

    fixed_seconds: float = DEFAULT_FIXED_SECONDS
    tail_seconds: float = DEFAULT_TAIL_SECONDS
    xx: list = field(default_factory=lambda: [[0.0, 0.0], [0.0, 0.0]])
    xy: list = field(default_factory=lambda: [0.0, 0.0])
    samples: int = 0

    def step_coefficients(self) -> np.ndarray:
        """(per_step, per_megapixel) seconds."""
        a = np.array(self.xx) + PRIOR_WEIGHT * np.eye(2)
        b = np.array(self.xy) + PRIOR_WEIGHT * np.array(DEFAULT_STEP_COEFFICIENTS)
        return np.linalg.solve(a, b)

    def step_seconds(self, megapixels: float) -> float:
        return max(float(np.array([1.0, megapixels]) @ self.step_coefficients()), 0.0)

    def seconds(self, task) -> float:
        return self.fixed_seconds + sum(steps * self.step_seconds(mp) for steps, mp in passes(task))

    def add(self, task, render_seconds: float, step_seconds: float, tail_seconds: float | None) -> None:
        """Fold in one task: its measured step time fits the first pass's size (the passes of a hires task
        differ in size; the measured rate is their mix)."""
        x = np.array([1.0, megapixels(task)])
        self.xx = (FORGETTING * np.array(self.xx) + np.outer(x, x)).tolist()
        self.xy = (FORGETTING * np.array(self.xy) + x * step_seconds).tolist()
        fixed = max(render_seconds - total_steps(task) * step_seconds, 0.0)
        self.fixed_seconds = _blend(self.fixed_seconds, fixed, self.samples)
        if tail_seconds is not None and tail_seconds >= 0:
            self.tail_seconds = _blend(self.tail_seconds, tail_seconds, self.samples)
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
        """Expected render time of a task (its passes, batch_size, checkpoint.base_model)."""
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
           step_seconds: float | None = None, tail_seconds: float | None = None) -> Throughput:
    """Fold one finished task's timings (measured on `device`) into the stored model.

    Without a measured step time (a one-step render) the whole render time counts as steps.
    """
    with transaction.atomic():
        speed = current()
        key = f"{device}|{architecture(task)}"
        model = speed.models.setdefault(key, SpeedModel())
        steps = total_steps(task)
        if render_seconds > 0 and steps > 0:
            model.add(task, render_seconds, step_seconds or render_seconds / steps, tail_seconds)
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


LOADING, RENDERING = "loading", "rendering"  # a running task's phases


@dataclass
class LiveEstimate:
    """Progress of the running task as its worker measures it: the fraction done, the seconds left and its phase
    (LOADING while its worker loads the checkpoint before the first step, else RENDERING)."""

    fraction: float
    seconds_left: float | None
    phase: str = RENDERING


def loading_estimate(elapsed: float, load_seconds: float, task_seconds: float) -> LiveEstimate:
    """A task whose checkpoint is loading (for `elapsed` s): the measured switch time left (never below zero,
    however long the load takes), then the whole render."""
    return LiveEstimate(0.0, max(load_seconds - elapsed, 0.0) + task_seconds, LOADING)


class StepClock:
    """Times one render's denoising steps: the measured rate gives the running task's time left."""

    def __init__(self, expected_seconds: float, tail_seconds: float):
        self.start = time.monotonic()
        self.expected = expected_seconds
        self.tail = tail_seconds
        self.first = None  # (time, steps done) at the first progress callback
        self.last = None  # (time, steps done) at the latest one

    def step(self, done: int, total: int) -> LiveEstimate:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        self.last = (now, done)
        rate = self.step_seconds
        if rate is not None:
            left = rate * (total - done) + self.tail
        else:  # one measurement only: the model's estimate less the time spent
            left = max(self.expected - (now - self.start), self.tail)
        return LiveEstimate(done / total if total else 0.0, left)

    @property
    def step_seconds(self) -> float | None:
        """Seconds per denoising step measured so far (None before two progress callbacks)."""
        if self.first is None or self.last[1] <= self.first[1]:
            return None
        return (self.last[0] - self.first[0]) / (self.last[1] - self.first[1])

    def tail_seconds(self, end: float) -> float | None:
        """Seconds from the last step to `end` (decoding, encoding and storing the images)."""
        return None if self.last is None else max(end - self.last[0], 0.0)
