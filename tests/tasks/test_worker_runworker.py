"""`manage.py runworker render` in its own process renders tasks queued before it started."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(env, *args, timeout=300):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_runworker_render_processes_pending_tasks_at_start(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "SDHOST_DATA_DIR": str(data), "OMP_NUM_THREADS": "1", "SDHOST_LOG_LEVEL": "WARNING"}
    env.pop("SDHOST_DATABASE_PATH", None)
    env.pop("SDHOST_DATABASE_URL", None)  # this test reads the worker's SQLite file
    manage(env, "migrate")
    checkpoint = manage(env, "make_test_checkpoint", str(tmp_path / "tiny.safetensors")).splitlines()[-1]
    manage(env, "import_model", checkpoint, "--name", "tiny")
    task_id = manage(env, "shell", "-c", (
        "from models_app.models import SDModel; from tasks_app import queue; "
        "task = queue.submit({'checkpoint': SDModel.objects.get(name='tiny'), 'prompt': 'p', 'width': 64, "
        "'height': 64, 'steps': 2, 'sampler': 'Euler', 'seed': 5, 'batch_size': 2}); print(task.id)"
    )).splitlines()[-1]

    worker = subprocess.Popen([sys.executable, "manage.py", "runworker", "render"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    db = sqlite3.connect(data / "sdhost.sqlite3", timeout=30)
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and worker.poll() is None:
            status = db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()[0]
            if status in ("completed", "failed"):
                break
            time.sleep(0.1)
        assert status == "completed", worker.stderr.read() if worker.poll() is not None else status
        seeds = sorted(s for (s,) in db.execute("SELECT seed FROM images WHERE task_id = ?", (task_id,)))
        assert seeds == [5, 6]
        heartbeat = db.execute("SELECT pid, device FROM render_workers").fetchone()
        assert heartbeat == (worker.pid, "cpu")
    finally:
        db.close()
        worker.terminate()
        worker.wait(30)
