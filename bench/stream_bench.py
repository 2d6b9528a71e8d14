"""Idle live-stream benchmark: what N open, idle SSE streams cost a real SD-Host server.

    python bench/stream_bench.py [--streams 2000] [--models 200] [--samples 60] [--path /api/tasks/queue]

A temporary data directory with `--models` ready models; `manage.py serve --no-worker` on a free loopback port.
Measured in the server process (psutil), three times: idle, with `--streams` streams open (each has received
its first event, the current state, and then nothing), and two seconds after the client closed them all:
  * RSS (MiB), open file descriptors, threads;
  * the server's CPU use over 16 s without requests (every stream sends a keep-alive comment meanwhile);
  * p50/p95 of GET /api/models (one client, `--samples` sequential requests, keep-alive off).
The streams are opened from this process with asyncio raw sockets, at most 100 connecting at a time.
Everything goes to 127.0.0.1 and the run ends by itself (each phase has a deadline).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve_bench import MIB, free_port, start, stop  # noqa: E402  (after sys.path)

CONNECT_AT_ONCE = 100
PHASE_SECONDS = 300
IDLE_SECONDS = 16  # longer than core.sse.KEEP_ALIVE_SECONDS: every stream sends one keep-alive meanwhile


def setup_library(tmp: Path, models: int) -> dict:
    """A migrated data directory with `models` ready checkpoints (rows only); returns the server env."""
    env = dict(os.environ, SDHOST_DATA_DIR=str(tmp / "data"), SDHOST_LOG_LEVEL="WARNING",
               DJANGO_SETTINGS_MODULE="sdhost.settings", SDHOST_AUTO_DOWNLOAD="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    script = (
        "import django, hashlib, sys; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', interactive=False, verbosity=0)\n"
        "from models_app.models import SDModel\n"
        "SDModel.objects.bulk_create(SDModel(hash=hashlib.sha256(str(i).encode()).hexdigest(), name=f'bench-{i}',"
        " model_type='checkpoint', status='ready', size=1, file_ext='.safetensors') for i in range(int(sys.argv[1])))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(models)], cwd=ROOT, env=env, check=True)
    return env


def start_server(env: dict, port: int) -> subprocess.Popen:
    return start([sys.executable, "manage.py", "serve", "--no-worker", "--port", str(port)], env, port)


def usage(pid: int) -> dict:
    proc = psutil.Process(pid)
    return {"rss": proc.memory_info().rss, "fds": proc.num_fds(), "threads": proc.num_threads()}


async def idle_cpu(pid: int) -> dict:
    """The server's CPU use (% of one core) over IDLE_SECONDS with no request: the streams' keep-alives."""
    proc = psutil.Process(pid)
    before = sum(proc.cpu_times()[:2])
    await asyncio.sleep(IDLE_SECONDS)
    return {"cpu": (sum(proc.cpu_times()[:2]) - before) / IDLE_SECONDS * 100}


async def get(port: int, path: str) -> float:
    """Seconds for one GET of `path` (status 200 required, whole body read)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    response = await reader.read()
    writer.close()
    if not response.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"GET {path}: {response[:200]!r}")
    return time.perf_counter() - started


async def list_latency(port: int, samples: int) -> dict:
    times = [await asyncio.wait_for(get(port, "/api/models?page[size]=50"), PHASE_SECONDS) for _ in range(samples)]
    times.sort()
    return {"p50": statistics.median(times), "p95": times[max(0, round(0.95 * len(times)) - 1)]}


async def open_stream(port: int, path: str, gate: asyncio.Semaphore):
    """A stream that has received its first event; (reader, writer)."""
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        received = b""
        while b"\n\n" not in received.partition(b"data: ")[2]:  # the first event, whole
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError(f"stream closed before its first event: {received[:300]!r}")
            received += chunk
        if not received.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(f"stream refused: {received[:300]!r}")
        return reader, writer


async def measure(port: int, pid: int, streams: int, path: str, samples: int) -> list[tuple[str, dict]]:
    rows = []
    await list_latency(port, 5)  # warm up: imports, first queries
    rows.append(("idle", {**usage(pid), **await idle_cpu(pid), **await list_latency(port, samples)}))
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    started = time.perf_counter()
    opened = await asyncio.wait_for(
        asyncio.gather(*(open_stream(port, path, gate) for _ in range(streams))), PHASE_SECONDS)
    print(f"{streams} streams open in {time.perf_counter() - started:.1f} s", flush=True)
    await asyncio.sleep(2)
    rows.append((f"{streams} streams open", {**usage(pid), **await idle_cpu(pid), **await list_latency(port, samples)}))
    for _, writer in opened:
        writer.close()
    await asyncio.gather(*(writer.wait_closed() for _, writer in opened), return_exceptions=True)
    await asyncio.sleep(2)
    rows.append(("after close", {**usage(pid), **await idle_cpu(pid), **await list_latency(port, samples)}))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--path", default="/api/tasks/queue", help="the stream opened N times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sdhost-stream-bench-") as tmp:
        env = setup_library(Path(tmp), args.models)
        port = free_port()
        process = start_server(env, port)
        try:
            rows = asyncio.run(measure(port, process.pid, args.streams, args.path, args.samples))
        finally:
            stop(process)
    print(f"\nGET {args.path} x {args.streams}, idle; GET /api/models ({args.models} models, page of 50) x"
          f" {args.samples}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"{'phase':<22} {'RSS MiB':>8} {'fds':>6} {'threads':>8} {'idle CPU %':>10} {'list p50 ms':>12}"
          f" {'list p95 ms':>12}")
    for phase, r in rows:
        print(f"{phase:<22} {r['rss'] / MIB:8.1f} {r['fds']:6d} {r['threads']:8d} {r['cpu']:10.1f}"
              f" {r['p50'] * 1000:12.1f} {r['p95'] * 1000:12.1f}")
    idle, loaded = rows[0][1], rows[1][1]
    print(f"cost of {args.streams} idle streams: {(loaded['rss'] - idle['rss']) / MIB:.1f} MiB,"
          f" list p95 x{loaded['p95'] / idle['p95']:.2f}")


if __name__ == "__main__":
    main()
