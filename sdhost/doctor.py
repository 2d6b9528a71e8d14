"""`manage.py doctor`: why rendering is slow, why a GPU is not used, what SD-Host cannot reach.

Each check returns a `Check`: `ok`, `warn` (a feature is limited or slow, SD-Host still serves and
renders) or `fail` (SD-Host cannot serve or render as configured). The command exits 1 when any
check fails, 0 otherwise: warnings alone keep 0. The verdicts are pure functions of plain facts,
so they are testable without the hardware they describe; the `check_*` functions gather the facts.
"""

import os
import shutil
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from core.database import database_label, pending_migrations
from core.jsondata import digits_value
from tasks_app.models import RenderWorkerState, Task
from tasks_app.queue import WORKER_STALE

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_PYTHON = (3, 11)
DISK_WARN_BYTES = 10 * 1024**3  # an SDXL checkpoint is ~6.5 GiB
DISK_FAIL_BYTES = 1 * 1024**3
NETWORK_TIMEOUT = 3.0  # seconds, Redis and the Civitai catalogue
CUDA_TORCH_HINT = ("install a CUDA build of torch in this environment (the command for your CUDA version is at "
                   "https://pytorch.org/get-started/locally/), then run 'python manage.py doctor' again")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str


# -- Python and torch -----------------------------------------------------------------------------

def check_python(version=sys.version_info[:3]) -> Check:
    text = ".".join(map(str, version))
    if tuple(version[:2]) < MIN_PYTHON:
        return Check("Python", FAIL, f"{text}: SD-Host needs Python {'.'.join(map(str, MIN_PYTHON))} or later")
    return Check("Python", OK, f"{text} ({sys.executable})")


def nvidia_gpu_present(proc_gpus: Path = Path("/proc/driver/nvidia/gpus"), search_path: str | None = None) -> bool:
    """Whether this machine has an NVIDIA GPU and driver: the kernel driver's GPU list, or nvidia-smi on PATH."""
    try:
        if any(proc_gpus.iterdir()):
            return True
    except OSError:
        pass
    return shutil.which("nvidia-smi", path=search_path) is not None


@dataclass(frozen=True)
class TorchFacts:
    version: str
    cuda_build: str | None  # torch.version.cuda: None for a CPU (or ROCm/MPS) build
    hip_build: str | None  # torch.version.hip: ROCm builds
    cuda_available: bool
    gpus: tuple[str, ...]  # "NVIDIA H200, 139.8 GiB", one per visible device
    mps_available: bool
    nvidia_gpu: bool  # an NVIDIA GPU is installed, whatever torch sees
    requested_device: str | None  # SDHOST_DEVICE


def torch_facts(requested_device: str | None) -> TorchFacts:
    import torch

    cuda_available = torch.cuda.is_available()
    gpus = ()
    if cuda_available:
        gpus = tuple(f"{p.name}, {p.total_memory / 1024**3:.1f} GiB"
                     for p in map(torch.cuda.get_device_properties, range(torch.cuda.device_count())))
    return TorchFacts(
        version=torch.__version__, cuda_build=torch.version.cuda, hip_build=getattr(torch.version, "hip", None),
        cuda_available=cuda_available, gpus=gpus, mps_available=torch.backends.mps.is_available(),
        nvidia_gpu=nvidia_gpu_present(), requested_device=requested_device,
    )


def torch_verdicts(facts: TorchFacts) -> list[Check]:
    """torch's build, and the device renders will run on, with what to do when a GPU goes unused."""
    build = (f"CUDA {facts.cuda_build} build" if facts.cuda_build else
             f"ROCm {facts.hip_build} build" if facts.hip_build else "CPU build")
    return [Check("torch", OK, f"{facts.version} ({build})"), device_verdict(facts)]


def device_verdict(facts: TorchFacts) -> Check:
    requested = facts.requested_device
    kind, _, index = (requested or "").partition(":")
    if kind == "cuda":
        if not facts.cuda_available:
            return Check("Render device", FAIL, f"SDHOST_DEVICE={requested} but torch sees no CUDA device: every "
                                                "render will fail; unset SDHOST_DEVICE or fix the GPU set-up")
        number = digits_value(index or "0")
        if number is None or number >= len(facts.gpus):
            return Check("Render device", FAIL, f"SDHOST_DEVICE={requested} but only {len(facts.gpus)} GPU(s) "
                                                "are visible: every render will fail")
        return gpu_in_use(facts, number)
    if kind == "mps":
        return (Check("Render device", OK, "mps (Apple GPU)") if facts.mps_available else
                Check("Render device", FAIL, "SDHOST_DEVICE=mps but MPS is not available: every render will fail"))
    if kind == "cpu" and (facts.cuda_available or facts.mps_available):
        gpus = "; ".join(facts.gpus) or "MPS"
        return Check("Render device", WARN, f"cpu, because SDHOST_DEVICE=cpu, although torch sees a GPU: {gpus}")
    if kind not in ("", "cpu"):
        return Check("Render device", WARN, f"{requested} (SDHOST_DEVICE): not a device doctor knows how to check")
    if kind == "" and facts.cuda_available:
        return gpu_in_use(facts, 0)
    if kind == "" and facts.mps_available:
        return Check("Render device", OK, "mps (Apple GPU)")
    if facts.nvidia_gpu and not facts.cuda_build:
        return Check("Render device", WARN, (
            f"cpu: this machine has an NVIDIA GPU but torch {facts.version} is a CPU build, so renders run on "
            f"the CPU (minutes per image); {CUDA_TORCH_HINT}"))
    if facts.nvidia_gpu:
        return Check("Render device", WARN, (
            f"cpu: this machine has an NVIDIA GPU and torch is a CUDA {facts.cuda_build} build, but torch cannot use "
            "the GPU: the NVIDIA driver is likely older than that CUDA version needs (compare 'nvidia-smi'), or "
            "CUDA_VISIBLE_DEVICES hides it"))
    return Check("Render device", WARN, (
        "cpu: no GPU found; the tiny test checkpoint renders in seconds, real checkpoints take minutes per image"))


def gpu_in_use(facts: TorchFacts, index: int) -> Check:
    return Check("Render device", OK, f"cuda:{index} ({facts.gpus[index]}); {len(facts.gpus)} GPU(s) visible")


def check_torch(requested_device: str | None) -> list[Check]:
    try:
        facts = torch_facts(requested_device)
    except ImportError as exc:
        return [Check("torch", FAIL, f"not importable ({exc}): pip install torch")]
    return torch_verdicts(facts)


# -- disk, database, Redis --------------------------------------------------------------------------

def disk_verdict(name: str, path: Path, free_bytes: int) -> Check:
    free = f"{free_bytes / 1024**3:.1f} GiB free in {path}"
    if free_bytes < DISK_FAIL_BYTES:
        return Check(name, FAIL, f"{free}: imports and renders will fail; free space or move the data directory")
    if free_bytes < DISK_WARN_BYTES:
        return Check(name, WARN, f"{free}: room for one or two checkpoints at most (SDXL ~6.5 GiB)")
    return Check(name, OK, free)


def check_disk(cfg) -> list[Check]:
    """Free space of the data directory, and of the model store when it lives on another disk."""
    checks, seen = [], set()
    for name, path in (("Disk (data)", cfg["DATA_DIR"]), ("Disk (models)", cfg["MODELS_PATH"])):
        existing = next(p for p in (path, *path.parents) if p.exists())
        device = existing.stat().st_dev
        if device in seen:
            continue
        seen.add(device)
        if not os.access(existing, os.W_OK):
            checks.append(Check(name, FAIL, f"{existing} is not writable by this user"))
            continue
        checks.append(disk_verdict(name, path, shutil.disk_usage(existing).free))
    return checks


def check_database() -> Check:
    from django.db import DatabaseError, connection

    label = database_label()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = pending_migrations()
    except (DatabaseError, OSError) as exc:
        return Check("Database", FAIL, f"{label}: {exc}")
    if pending:
        return Check("Database", OK, f"{label}; {len(pending)} migration(s) to apply, done by the next "
                                     "'serve' or import command")
    return Check("Database", OK, f"{label}; schema up to date")


def redis_ping(url: str, timeout: float = NETWORK_TIMEOUT) -> str:
    """PING the Redis server of `url` (redis:// or rediss://, with AUTH from the URL); its first reply line."""
    parts = urlparse(url)
    host, port = parts.hostname or "localhost", parts.port or 6379
    commands = []
    if parts.password is not None:
        auth = [unquote(parts.username)] if parts.username else []
        commands.append(["AUTH", *auth, unquote(parts.password)])
    commands.append(["PING"])
    sock = socket.create_connection((host, port), timeout=timeout)
    if parts.scheme == "rediss":
        try:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        except OSError:
            sock.close()
            raise
    with sock, sock.makefile("rb") as reader:
        for command in commands:
            sock.sendall(b"".join([f"*{len(command)}\r\n".encode()] +
                                  [f"${len(arg.encode())}\r\n{arg}\r\n".encode() for arg in command]))
            reply = reader.readline().decode(errors="replace").strip()
            if not reply.startswith("+"):
                return reply
        return reply


def redis_url(channel_layers) -> str | None:
    """The Redis URL of the Channels layer (SDHOST_REDIS_URL), or None for the in-memory layer."""
    hosts = channel_layers.get("default", {}).get("CONFIG", {}).get("hosts") or [None]
    return hosts[0] if isinstance(hosts[0], str) or hosts[0] is None else None


def check_redis(url: str | None) -> list[Check]:
    if not url:
        return [Check("Redis", OK, "not configured (one process: server and worker share memory)")]
    shown = urlparse(url)._replace(netloc=urlparse(url).netloc.rpartition("@")[2]).geturl()  # no password
    try:
        reply = redis_ping(url)
    except (OSError, ValueError) as exc:
        return [Check("Redis", FAIL, f"{shown} unreachable ({type(exc).__name__}: {exc}); set SDHOST_REDIS_URL "
                                     "to a running Redis or unset it for a single process")]
    checks = [Check("Redis", OK, f"{shown} answers PING") if reply == "+PONG" else
              Check("Redis", FAIL, f"{shown} answered {reply!r} (a password in the URL missing or wrong?)")]
    try:
        import channels_redis  # noqa: F401
    except ImportError:
        checks.append(Check("Redis client", FAIL, "SDHOST_REDIS_URL is set but channels-redis is not installed: "
                                                  "pip install channels-redis redis"))
    return checks


# -- Civitai and the worker ---------------------------------------------------------------------------

def check_civitai(base_url: str, token: str | None, enabled: bool, timeout: float = NETWORK_TIMEOUT) -> Check:
    """Read one catalogue item: imports from Civitai need it; everything else works without."""
    import requests

    if not enabled:
        return Check("Civitai", OK, "imports disabled (SDHOST_CIVITAI_ENABLED=false)")
    url = f"{base_url}/api/v1/models?limit=1"
    headers = {"User-Agent": "SD-Host", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    token_note = "token set" if token else "no token: gated downloads need SDHOST_CIVITAI_TOKEN"
    try:
        response = requests.get(url, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        return Check("Civitai", WARN, f"{base_url} unreachable ({type(exc).__name__}): imports from Civitai "
                                      "will fail; everything else works offline")
    if response.status_code in (401, 403):
        return Check("Civitai", WARN, f"{base_url} refused the request (HTTP {response.status_code}): check "
                                      "SDHOST_CIVITAI_TOKEN")
    if response.status_code != 200:
        return Check("Civitai", WARN, f"{base_url} answered HTTP {response.status_code}: imports may fail now")
    return Check("Civitai", OK, f"{base_url} reachable; {token_note}")


def check_worker(render_worker_in_serve: bool) -> Check:
    """The render workers' heartbeats (the `render_workers` table, D41), and how many tasks wait for them."""
    from django.db import DatabaseError
    from django.utils import timezone

    start = ("start 'python manage.py serve' (worker in-process)" if render_worker_in_serve else
             "SDHOST_RENDER_WORKER=false: start 'python manage.py runworker render'")
    try:
        latest = RenderWorkerState.objects.order_by("-heartbeat_at").first()
        alive = list(RenderWorkerState.objects.filter(heartbeat_at__gte=timezone.now() - WORKER_STALE))
        waiting = Task.objects.filter(status="pending").count()
    except DatabaseError:
        return Check("Render worker", WARN, f"none has run with this database yet; {start}")
    queue = f"{waiting} task(s) waiting"
    if latest is None:
        return Check("Render worker", WARN, f"not running; {queue}; {start}")
    if not alive:
        age = (timezone.now() - latest.heartbeat_at).total_seconds()
        return Check("Render worker", WARN, f"not running (last heartbeat {age:.0f} s ago); {queue}; {start}")
    described = ", ".join(f"pid {w.pid} on {w.host} ({w.device or 'device ?'}), heartbeat "
                          f"{(timezone.now() - w.heartbeat_at).total_seconds():.0f} s ago" for w in alive)
    return Check("Render worker", OK, f"alive ({described}); {queue}")


def run_checks() -> list[Check]:
    from django.conf import settings

    cfg = settings.SDHOST
    return [
        check_python(),
        *check_torch(cfg["DEVICE"]),
        *check_disk(cfg),
        check_database(),
        *check_redis(redis_url(settings.CHANNEL_LAYERS)),
        check_civitai(cfg["CIVITAI_BASE_URL"], cfg["CIVITAI_TOKEN"], cfg["CIVITAI_ENABLED"]),
        check_worker(cfg["RENDER_WORKER"]),
    ]
