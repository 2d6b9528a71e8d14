"""Test support: SD-Host as several real processes on PostgreSQL + Redis (D40, D41).

`Cluster` owns a throwaway PostgreSQL database (created, migrated, dropped), a shared data folder,
server processes (uvicorn, as `serve` runs it) and `manage.py runworker render` processes. Nothing is imitated: the
processes talk to each other only through the database, Redis and the shared files.
`require_services()` skips the calling test, with the reason, unless the suite runs on PostgreSQL
(SDHOST_DATABASE_URL, as in .ci/run's second pass: the cluster's database is made on that server)
and Redis (SDHOST_TEST_REDIS_URL, default the local one) answers.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SUITE_DATABASE = os.environ.get("SDHOST_DATABASE_URL", "")
POSTGRES_SERVER = SUITE_DATABASE.rsplit("/", 1)[0] if SUITE_DATABASE.startswith("postgres") else None
REDIS_URL = os.environ.get("SDHOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# The HTTP server as `manage.py serve` runs it (sdhost.serving), without serve's start-up work
SERVER_SCRIPT = ("import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'sdhost.settings'); import django; "
                 "django.setup(); from sdhost.serving import serve; serve('127.0.0.1', {port})")


def require_services():
    if POSTGRES_SERVER is None:
        pytest.skip("multi-process tests run when the suite runs on PostgreSQL (SDHOST_DATABASE_URL; .ci/run's "
                    "second pass)")
    try:
        import psycopg
        import redis
    except ImportError as exc:
        pytest.skip(f"scale-out packages not installed (pip install -e '.[scale]'): {exc}")
    try:
        psycopg.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_SERVER}: {exc}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL} (SDHOST_TEST_REDIS_URL): {exc}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, data_dir: Path, **settings):
        import psycopg

        self.database = f"sdhost_mp_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.url = f"{POSTGRES_SERVER}/{self.database}"
        self.data_dir = data_dir
        self.env = {
            **os.environ, "SDHOST_DATABASE_URL": self.url, "SDHOST_REDIS_URL": REDIS_URL,
            "SDHOST_DATA_DIR": str(data_dir), "SDHOST_LOG_LEVEL": "WARNING", "OMP_NUM_THREADS": "1",
            "SDHOST_DEVICE": "cpu", "SDHOST_RENDER_WORKER": "false", "DJANGO_SETTINGS_MODULE": "sdhost.settings",
            **{f"SDHOST_{key}": str(value) for key, value in settings.items()},
        }
        self.env.pop("SDHOST_DATABASE_PATH", None)
        self.processes: list[subprocess.Popen] = []
        self.manage("migrate", "-v", "0")

    def manage(self, *args, timeout=300):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def sql(self, query, params=()):
        """The rows of one statement (none for a statement without rows)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description is not None else []

    def _spawn(self, args, **env):
        log = open(self.data_dir / f"process-{len(self.processes)}.log", "w")
        process = subprocess.Popen(args, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def start_server(self, **env) -> str:
        """A server process (uvicorn, configured as `manage.py serve` runs it, without a worker or start-up
        work) serving sdhost.asgi; returns its base URL once /api/health answers."""
        port = free_port()
        process = self._spawn([sys.executable, "-c", SERVER_SCRIPT.format(port=port)], **env)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, self.logs()
            try:
                if requests.get(f"{url}/api/health", timeout=2).status_code == 200:
                    return url
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not start\n{self.logs()}")

    def start_worker(self, **env) -> subprocess.Popen:
        return self._spawn([sys.executable, "manage.py", "runworker", "render"], **env)

    def worker_id(self, process, timeout=120) -> str:
        """The render_workers id of a worker process (once it registered)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, self.logs()
            rows = self.sql("SELECT id FROM render_workers WHERE pid = %s", (process.pid,))
            if rows:
                return rows[0][0]
            time.sleep(0.2)
        raise AssertionError(f"worker {process.pid} never registered\n{self.logs()}")

    def logs(self):
        return "\n".join(p.read_text()[-2000:] for p in sorted(self.data_dir.glob("process-*.log")))

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        import psycopg

        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


class SSEClient:
    """Reads a text/event-stream in a thread; `events` collects every `data:` document."""

    def __init__(self, url):
        self.events: list[dict] = []
        self.arrivals: list[float] = []
        self.response = requests.get(url, stream=True, timeout=(5, 120))
        assert self.response.status_code == 200
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for line in self.response.iter_lines():
                if line.startswith(b"data: "):
                    self.events.append(json.loads(line[6:]))
                    self.arrivals.append(time.time())  # wall clock: comparable with the database's timestamps
        except (requests.RequestException, AttributeError, ValueError):
            pass  # closed by close()

    def close(self):
        self.response.close()
        self.thread.join(5)


def make_checkpoints(cluster, count):
    """Import `count` tiny random-weight SD1.5 checkpoints into the cluster's library; their hashes."""
    script = (
        "from pathlib import Path; from engine.tiny_models import write_model_file; "
        "from models_app.services import import_model_file\n"
        f"for i in range({count}):\n"
        f"    print('HASH', import_model_file(write_model_file(Path({str(cluster.data_dir)!r}) / f'c{{i}}.safetensors',"
        " seed=i), name=f'tiny-{i}')[0].hash)"
    )
    return [line.split()[1] for line in cluster.manage("shell", "-c", script).splitlines() if line.startswith("HASH ")]


def submit(url, checkpoint, **fields):
    """POST /api/tasks of a tiny render on `url`; the task id."""
    body = {"checkpoint_hash": checkpoint, "prompt": "a tiny test", "width": 64, "height": 64, "steps": 3,
            "sampler": "Euler", **fields}
    response = requests.post(f"{url}/api/tasks", json=body, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["task_id"]
