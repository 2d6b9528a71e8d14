"""Measured render speed and the time estimates built on it (`estimated_time`, queue `eta`).

A task's render time is modelled per architecture (the checkpoint's `base_model`; an upscale task's upscaler,
`upscale:<name>`, which costs per pixel unlike a denoising step) and device as

    seconds = outside + Σ over passes steps × step_seconds(MP),
    step_seconds(MP) = a + b·MP + c·MP²,   outside = f + g·image_MP

(`passes`: img2img denoises ceil(steps × strength) steps, a hires fix adds its second pass at the final size,
an upscale task counts as one step at its result size). MP is the batch's megapixels in that pass; the MP² term is
self-attention, quadratic in the latent's tokens, which makes a step at 4× the pixels cost well over 4× on a CPU
(a linear model learned at 512² estimated a 512→1024 hires render at 43 s where it took 14 minutes).
`image_MP` (`image_megapixels`) counts what the VAE decodes and encodes outside the loops: the result, an init
image, and for a hires fix with a pixel upscaler the first pass's decode and the encode at the final size.

The worker measures every finished task alone: its mean step rate from the progress callbacks fits (a, b, c)
against the mean of (1, MP, MP²) over its steps (so a hires task's mix of sizes teaches rather than confuses), and
the rest of its time fits (f, g). Both are exponentially weighted least-squares fits (older tasks weigh `FORGETTING`
times less per newer one) with a faint pull towards built-in defaults, relative to the data's own weight on each
coefficient, so that they stay defined while few sizes have been seen; c never goes below zero. The model and the
seconds a checkpoint switch costs (the cold load, shown as the `loading` phase) live in one SystemFact
(`render_throughput`, `FORMAT` 3; a stored format-2 model is migrated), so they survive restarts.

The running task's time left comes from its own measured step rate (`LiveEstimate`): the steps
left at the rate measured so far, plus the measured time after the last step (`tail`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from django.db import transaction

from engine.a1111.names import LATENT_UPSCALERS
from engine.img2img import denoising_steps
from system_app.models import SystemFact

FACT_KEY = "render_throughput"
FORMAT = 3  # 3: step cost quadratic in megapixels, outside time linear in the image megapixels (2: both linear/fixed)
FORGETTING = 0.9  # weight kept by earlier tasks each time a task finishes (~10 tasks of memory)
SMOOTHING = 0.3  # weight of the newest measurement in the moving averages (load, tail)
PRIOR_WEIGHT = 1e-3  # how strongly the defaults hold the coefficients no task has determined yet (relative)
DEFAULT_STEP_COEFFICIENTS = (0.0, 0.15, 0.0)  # s per step, per megapixel-step, per megapixel²-step (~ a GPU on SD1.5)
DEFAULT_OUTSIDE_COEFFICIENTS = (2.0, 0.0)  # s per task, s per megapixel encoded or decoded by the VAE
DEFAULT_FIXED_SECONDS = DEFAULT_OUTSIDE_COEFFICIENTS[0]
DEFAULT_LOAD_SECONDS = 5.0
DEFAULT_TAIL_SECONDS = 0.5


def megapixels(task) -> float:
    """The pixels one denoising step of `task`'s first pass works on, in megapixels (the whole batch)."""
    return task.width * task.height / 1_000_000 * task.batch_size


def is_upscale(task) -> bool:
    return getattr(task, "kind", "render") == "upscale"


def passes(task) -> list[tuple[int, float]]:
    """(denoising steps, megapixels of the batch) of each pass `task` runs."""
    if is_upscale(task):
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


def image_megapixels(task) -> float:
    """Megapixels the VAE encodes or decodes outside the denoising loops: the result decoded, an init image encoded,
    and a hires fix with a pixel upscaler decodes its first pass and encodes the upscaled images at the final size."""
    runs = passes(task)
    total = runs[-1][1]
    if getattr(task, "denoising_strength", None) is not None and not is_upscale(task):
        total += runs[0][1]
    hires = getattr(task, "hires", None)
    if hires and not is_upscale(task) and hires.get("upscaler") not in LATENT_UPSCALERS:
        total += runs[0][1] + runs[-1][1]
    return total


def total_steps(task) -> int:
    return sum(steps for steps, _ in passes(task))


def architecture(task) -> str:
    """What a task's speed depends on: its checkpoint's base model, normalised; for an upscale task its upscaler
    (`upscale:<name>`), which costs per pixel unlike any denoising step."""
    if is_upscale(task):
        upscaler = getattr(task, "upscaler", None) if getattr(task, "upscaler_id", None) else None
        return "upscale:" + " ".join((getattr(upscaler, "name", None) or "built-in").lower().split())
    checkpoint = getattr(task, "checkpoint", None)
    base = getattr(checkpoint, "base_model", None) if checkpoint is not None else None
    return " ".join((base or "unknown").lower().split())


def format_hms(seconds: float) -> str:
    """HH:MM:SS, rounded up to whole seconds; hours may exceed 99."""
    total = max(0, int(-(-seconds // 1)))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


CURVATURE_SEEN = 1e-6  # the MP² term is fitted once the sizes seen determine it beyond a line (see _solve)


def _solve(xx, xy, defaults) -> np.ndarray:
    """Weighted least squares with a faint pull towards `defaults`, scaled per coefficient by the data's own
    weight on it (so that a tiny MP² term is learned as readily as the constant; for MP², its weight beyond what a
    line explains, as extrapolating to 4x the pixels magnifies any pull on it).

    For the step fit (three coefficients) the MP² term is fitted only when the sizes seen determine it: its share of
    the data not explained by (1, MP) (the Schur complement of the sums) must be more than `CURVATURE_SEEN` of its
    weight; with one or two sizes a line is fitted and c stays at its default (0). c never goes below zero (no step
    gets cheaper per pixel as the image grows): a fit that wants it negative gets the line."""
    xx, xy, defaults = np.array(xx, dtype=float), np.array(xy, dtype=float), np.array(defaults, dtype=float)
    prior = np.diag(PRIOR_WEIGHT * np.diag(xx) + 1e-12)
    if len(defaults) > 2:
        line = np.append(_solve(xx[:2, :2], xy[:2] - xx[:2, 2] * defaults[2], defaults[:2]), defaults[2])
        unexplained = xx[2, 2] - xx[2, :2] @ np.linalg.pinv(xx[:2, :2], rcond=1e-12) @ xx[:2, 2]
        if unexplained <= CURVATURE_SEEN * xx[2, 2]:
            return line
        prior[2, 2] = PRIOR_WEIGHT * unexplained  # relative to what the data say about the curvature
        curve = np.linalg.solve(xx + prior, xy + prior @ defaults)
        return curve if curve[2] >= 0 else line
    return np.linalg.solve(xx + prior, xy + prior @ defaults)


def _step_features(task) -> np.ndarray:
    """(1, MP, MP²) averaged over the task's denoising steps: its measured mean step time is this · coefficients."""
    runs = passes(task)
    steps = sum(s for s, _ in runs) or 1
    return sum(s * np.array([1.0, mp, mp * mp]) for s, mp in runs) / steps


@dataclass
class SpeedModel:
    """One (device, architecture): weighted least-squares states (sums of w·x·xᵀ and w·x·y) of the mean step time
    against x = (1, MP, MP²) over the task's steps (attention makes a step superlinear in pixels), and of the
    time outside the denoising loops against x = (1, image megapixels) (VAE decode/encode, PNG, storing)."""

    tail_seconds: float = DEFAULT_TAIL_SECONDS
    xx: list = field(default_factory=lambda: np.zeros((3, 3)).tolist())
    xy: list = field(default_factory=lambda: [0.0, 0.0, 0.0])
    outside_xx: list = field(default_factory=lambda: [[0.0, 0.0], [0.0, 0.0]])
    outside_xy: list = field(default_factory=lambda: [0.0, 0.0])
    samples: int = 0

    def step_coefficients(self) -> np.ndarray:
        """(per_step, per_megapixel, per_megapixel²) seconds."""
        return _solve(self.xx, self.xy, DEFAULT_STEP_COEFFICIENTS)

    def outside_coefficients(self) -> np.ndarray:
        """(per task, per image megapixel) seconds outside the denoising loops."""
        return _solve(self.outside_xx, self.outside_xy, DEFAULT_OUTSIDE_COEFFICIENTS)

    def step_seconds(self, megapixels: float) -> float:
        return max(float(np.array([1.0, megapixels, megapixels ** 2]) @ self.step_coefficients()), 0.0)

    def fixed_seconds(self, task) -> float:
        return max(float(np.array([1.0, image_megapixels(task)]) @ self.outside_coefficients()), 0.0)

    def seconds(self, task) -> float:
        return self.fixed_seconds(task) + sum(steps * self.step_seconds(mp) for steps, mp in passes(task))

    def add(self, task, render_seconds: float, step_seconds: float, tail_seconds: float | None) -> None:
        """Fold in one task: its measured mean step time fits the mix of its passes' sizes (a hires task's second
        pass at the final size, which costs more per pixel), the rest of its time the pixels its VAE handled."""
        x = _step_features(task)
        self.xx = (FORGETTING * np.array(self.xx) + np.outer(x, x)).tolist()
        self.xy = (FORGETTING * np.array(self.xy) + x * step_seconds).tolist()
        fixed = max(render_seconds - total_steps(task) * step_seconds, 0.0)
        x = np.array([1.0, image_megapixels(task)])
        self.outside_xx = (FORGETTING * np.array(self.outside_xx) + np.outer(x, x)).tolist()
        self.outside_xy = (FORGETTING * np.array(self.outside_xy) + x * fixed).tolist()
        if tail_seconds is not None and tail_seconds >= 0:
            self.tail_seconds = _blend(self.tail_seconds, tail_seconds, self.samples)
        self.samples += 1

    @classmethod
    def from_format_2(cls, value: dict) -> "SpeedModel":
        """A stored format-2 model: its step fit (1, MP) gains a zero MP² row and column; its moving-average fixed
        time becomes one observation at zero image megapixels."""
        xx = np.zeros((3, 3))
        xx[:2, :2] = value.get("xx", [[0.0, 0.0], [0.0, 0.0]])
        samples = value.get("samples", 0)
        fixed = value.get("fixed_seconds", DEFAULT_FIXED_SECONDS)
        return cls(tail_seconds=value.get("tail_seconds", DEFAULT_TAIL_SECONDS), xx=xx.tolist(),
                   xy=[*value.get("xy", [0.0, 0.0]), 0.0], outside_xx=[[1.0 if samples else 0.0, 0.0], [0.0, 0.0]],
                   outside_xy=[fixed if samples else 0.0, 0.0], samples=samples)


@dataclass
class Throughput:
    device: str | None = None  # the device of the last finished task: what estimates assume
    models: dict = field(default_factory=dict)  # "device|architecture" -> SpeedModel
    load_seconds: float = DEFAULT_LOAD_SECONDS
    load_samples: int = 0

    def model(self, task, device: str | None = None) -> SpeedModel:
        """The speed model for `task` on `device` (default: the last used); the device's busiest one of the same
        kind (render or upscale) if this architecture never ran there, else the defaults."""
        device = device or self.device
        found = self.models.get(f"{device}|{architecture(task)}")
        if found is None:
            upscale = is_upscale(task)
            mine = [m for key, m in self.models.items()
                    if key.split("|", 1)[0] == device and key.split("|", 1)[1].startswith("upscale:") == upscale]
            found = max(mine, key=lambda m: m.samples) if mine else SpeedModel()
        return found

    def task_seconds(self, task) -> float:
        """Expected render time of a task (its passes, batch_size, checkpoint.base_model)."""
        return self.model(task).seconds(task)

    def queue_seconds(self, tasks, loaded_checkpoint=None) -> list[float]:
        """Cumulative finish times of `tasks` run in order, from an idle worker holding `loaded_checkpoint`."""
        finish, elapsed, loaded = [], 0.0, loaded_checkpoint
        for task in tasks:
            if task.checkpoint_id != loaded and not is_upscale(task):  # an upscale task loads no checkpoint
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
        stored = data.pop("format", None)
        if stored == 2:
            models = {key: SpeedModel.from_format_2(value) for key, value in data.pop("models", {}).items()}
            return cls(models=models, **data)
        if stored != FORMAT:  # an older average: only the switch cost carries over
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

    Without a measured step time (a one-step render) the whole render time counts as steps; an upscale task is
    one step at its result size whatever its progress reports (tiles), so its upscaler's model is per pixel.
    """
    with transaction.atomic():
        speed = current()
        key = f"{device}|{architecture(task)}"
        model = speed.models.setdefault(key, SpeedModel())
        steps = total_steps(task)
        if is_upscale(task):
            step_seconds = render_seconds
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
