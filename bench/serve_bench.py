"""Serving benchmark: large file downloads from SD-Host versus `python -m http.server` on loopback.

    python bench/serve_bench.py [--size-mib 2048] [--range-mib 1024] [--runs 3]
                                [--slow-seconds 20] [--slow-mib-s 10] [--servers sdhost,http.server]

One file of random bytes becomes a ready model in a temporary data directory; every server in
`--servers` serves it, one after the other, in the same run (the file stays in the page cache):
  * `sdhost`: `manage.py serve --no-worker`, the one entry point, GET /api/models/{hash}/content;
  * `http.server`: Python's own static server over the same file (the reference);
  * `daphne`, `uvicorn`, `hypercorn`, `granian`: the bare ASGI server on `sdhost.asgi:application`
    (when installed), to compare servers on the same Django path.
Measured: one client and four concurrent clients (curl -o /dev/null), full file and the last
`--range-mib` MiB as a Range request (aggregate MiB/s, best of --runs; `http.server` ignores Range,
so only its full reads are measured); then one client reading at
`--slow-mib-s` for `--slow-seconds` from a raw socket: the server's peak RSS growth while it
reads, and the RSS two seconds after it disconnects. CPU s/GiB: the server's CPU time (all its
processes) per GiB sent during the single-client full reads; it varies less than MiB/s on a busy
machine.
"""

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024


def make_file(path: Path, size: int) -> str:
    """Random bytes; returns their SHA256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(16 * MIB, left))
            digest.update(block)
            f.write(block)
            left -= len(block)
    return digest.hexdigest()


def setup_library(tmp: Path, source: Path, sha: str) -> dict:
    """A data directory whose model store holds `source` as a ready model; returns the server env."""
    env = dict(os.environ, SDHOST_DATA_DIR=str(tmp / "data"), SDHOST_LOG_LEVEL="WARNING",
               DJANGO_SETTINGS_MODULE="sdhost.settings", SDHOST_AUTO_DOWNLOAD="0", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    script = (
        "import django, sys; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', interactive=False, verbosity=0)\n"
        "from models_app.models import SDModel\n"
        "from models_app.storage import model_store\n"
        "sha, source, size = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
        "target = model_store().path(sha, '.safetensors')\n"
        "target.parent.mkdir(parents=True, exist_ok=True)\n"
        "import os; os.link(source, target)\n"
        "SDModel.objects.create(hash=sha, name='bench', model_type='checkpoint', status='ready', size=size,"
        " file_ext='.safetensors')\n"
    )
    subprocess.run([sys.executable, "-c", script, sha, str(source), str(source.stat().st_size)],
                   cwd=ROOT, env=env, check=True)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(name: str, port: int, source: Path) -> list[str] | None:
    """How to start `name` on `port`; None when that server is not installed."""
    app = "sdhost.asgi:application"
    py = sys.executable
    commands = {
        "sdhost": [py, "manage.py", "serve", "--no-worker", "--port", str(port)],
        "http.server": [py, "-m", "http.server", "-b", "127.0.0.1", "-d", str(source.parent), str(port)],
        "daphne": [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app],
        "uvicorn": [py, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
                    "--log-level", "warning", app],
        "hypercorn": [py, "-m", "hypercorn", "-b", f"127.0.0.1:{port}", app],
        "granian": [py, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                    "--workers", "1", "--no-ws", app],
    }
    module = {"sdhost": None, "http.server": None}.get(name, name)
    if module is not None:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            return None
    return commands[name]


def start(command: list[str], env: dict, port: int) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(0.5)  # let it finish starting (granian forks its worker after binding)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{command} did not start: {process.stderr.read().decode()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def rss(pid: int) -> int:
    """Resident memory of a server and its child processes (granian runs its workers as children)."""
    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server and its child processes."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def curl_clients(url: str, clients: int, expected: int, range_header: str | None) -> float:
    """Aggregate MiB/s of `clients` concurrent full reads of `url` (bodies discarded)."""
    command = ["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{size_download}\n", url]
    if range_header:
        command[1:1] = ["-H", f"Range: {range_header}"]
    start_time = time.perf_counter()
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(clients)]
    sizes = [int(p.communicate()[0]) for p in procs]
    elapsed = time.perf_counter() - start_time
    if any(p.returncode for p in procs) or sizes != [expected] * clients:
        raise SystemExit(f"incomplete download from {url}: {sizes}")
    return clients * expected / MIB / elapsed


def slow_client(port: int, path: str, pid: int, seconds: float, rate: float) -> tuple[int, int, int, int]:
    """Read `path` at `rate` bytes/s for `seconds`; (RSS before, peak RSS, RSS 2 s after closing, bytes read)."""
    before = rss(pid)
    peak, received = before, 0
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    start_time = time.perf_counter()
    while (elapsed := time.perf_counter() - start_time) < seconds:
        ahead = received - rate * elapsed
        if ahead > 0:
            time.sleep(min(ahead / rate, 0.05))
        else:
            received += len(sock.recv(64 * 1024))
        peak = max(peak, rss(pid))
    sock.close()
    time.sleep(2)
    return before, peak, rss(pid), received


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--range-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slow-seconds", type=float, default=20)
    parser.add_argument("--slow-mib-s", type=float, default=10)
    parser.add_argument("--servers", default="sdhost,http.server")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is required")
    size, tail = args.size_mib * MIB, args.range_mib * MIB

    with tempfile.TemporaryDirectory(prefix="sdhost-serve-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "static").mkdir()
        source = tmp / "static" / "model.safetensors"
        print(f"generating {args.size_mib} MiB of random bytes ...", flush=True)
        sha = make_file(source, size)
        env = setup_library(tmp, source, sha)
        results = []
        for name in args.servers.split(","):
            port = free_port()
            command = server_command(name, port, source)
            if command is None:
                print(f"{name}: not installed, skipped")
                continue
            path = "/model.safetensors" if name == "http.server" else f"/api/models/{sha}/content"
            url = f"http://127.0.0.1:{port}{path}"
            process = start(command, env, port)
            try:
                row = {"server": name, "range x1": None, "range x4": None}

                def best(clients, length, range_header=None):
                    return max(curl_clients(url, clients, length, range_header) for _ in range(args.runs))

                cpu_before = cpu_seconds(process.pid)
                row["full x1"] = best(1, size)
                row["cpu s/GiB"] = (cpu_seconds(process.pid) - cpu_before) / args.runs / (size / 1024 / MIB)
                row["full x4"] = best(4, size)
                if name != "http.server":  # it ignores Range
                    row["range x1"] = best(1, tail, f"bytes=-{tail}")
                    row["range x4"] = best(4, tail, f"bytes=-{tail}")
                before, peak, after, read = slow_client(
                    port, path, process.pid, args.slow_seconds, args.slow_mib_s * MIB)
                row.update(rss_before=before, rss_peak=peak, rss_after=after, slow_read=read)
                print(row, flush=True)
                results.append(row)
            finally:
                stop(process)

    print(f"\n{args.size_mib} MiB file (Range: last {args.range_mib} MiB), loopback, best of {args.runs},"
          f" {os.cpu_count()} CPUs; MiB/s aggregate")
    print(f"{'server':<12} {'full x1':>8} {'full x4':>8} {'range x1':>9} {'range x4':>9} {'CPU s/GiB':>9}"
          f"   slow client {args.slow_mib_s:g} MiB/s for {args.slow_seconds:g} s: RSS MiB before / peak / after")
    def rate(value, width):
        return f"{value:{width}.0f}" if value is not None else f"{'-':>{width}}"

    for r in results:
        print(f"{r['server']:<12} {rate(r['full x1'], 8)} {rate(r['full x4'], 8)} {rate(r['range x1'], 9)}"
              f" {rate(r['range x4'], 9)} {r['cpu s/GiB']:9.2f}"
              f"   {r['rss_before'] / MIB:.0f} / {r['rss_peak'] / MIB:.0f} / {r['rss_after'] / MIB:.0f}"
              f"  (read {r['slow_read'] / MIB:.0f} MiB)")


if __name__ == "__main__":
    main()
