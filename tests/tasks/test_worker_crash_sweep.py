"""`kill -9` of a worker the moment a render's PNG reaches the store, then a sweep (issue 8, item 9).

The worker is a real `manage.py runworker render` process; the test polls the images store and kills it
as soon as a new file of the task appears (its database transaction cannot have committed by then).
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.tasks.test_worker_runworker import manage

ROOT = Path(__file__).resolve().parents[2]
ATTEMPTS = 3


def store_files(images):
    return {p for p in images.glob("??/*") if p.is_file()}


def submit(env, seed, batch_size, steps=2):
    return manage(env, "shell", "-c", (
        "from models_app.models import SDModel; from tasks_app import queue; "
        "task = queue.submit({'checkpoint': SDModel.objects.get(name='tiny'), 'prompt': 'p', 'width': 64, "
        f"'height': 64, 'steps': {steps}, 'sampler': 'Euler', 'seed': {seed}, 'batch_size': {batch_size}}}); "
        "print(task.id)"
    )).splitlines()[-1]


def kill_when_a_file_appears(env, images, db, task_id):
    """Run a worker and SIGKILL it when a new store file appears; whether the task completed anyway."""
    before = store_files(images)
    worker = subprocess.Popen([sys.executable, "manage.py", "runworker", "render"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and worker.poll() is None:
            if store_files(images) - before:
                os.kill(worker.pid, signal.SIGKILL)
                break
            time.sleep(0.0005)
        else:
            raise AssertionError("the worker produced no image")
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(30)
    status = db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()[0]
    return status == "completed"


def test_kill_at_store_time_leaves_orphans_that_the_sweep_removes_without_losing_a_row_s_file(tmp_path):
    data = tmp_path / "data"
    images = data / "images"
    env = {**os.environ, "SDHOST_DATA_DIR": str(data), "OMP_NUM_THREADS": "1", "SDHOST_LOG_LEVEL": "WARNING"}
    env.pop("SDHOST_DATABASE_PATH", None)
    env.pop("SDHOST_DATABASE_URL", None)  # this test reads the worker's SQLite file
    manage(env, "migrate")
    checkpoint = manage(env, "make_test_checkpoint", str(tmp_path / "tiny.safetensors")).splitlines()[-1]
    manage(env, "import_model", checkpoint, "--name", "tiny")
    db = sqlite3.connect(data / "sdhost.sqlite3", timeout=30)
    try:
        kept = submit(env, seed=1, batch_size=1)  # a finished task whose image must survive everything
        worker = subprocess.Popen([sys.executable, "manage.py", "runworker", "render"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 180
            while db.execute("SELECT status FROM tasks WHERE id = ?", (kept,)).fetchone()[0] != "completed":
                assert time.monotonic() < deadline and worker.poll() is None
                time.sleep(0.1)
        finally:
            worker.terminate()
            worker.wait(30)

        for attempt in range(ATTEMPTS):  # the kill must land before the commit; retried if the worker won
            task_id = submit(env, seed=100 + 10 * attempt, batch_size=4)
            if not kill_when_a_file_appears(env, images, db, task_id):
                break
        else:
            raise AssertionError(f"the worker committed before the kill in {ATTEMPTS} attempts")

        rows = {h for (h,) in db.execute("SELECT hash FROM images")}
        files = store_files(images)
        orphans = {p for p in files if p.name.split(".")[0] not in rows}
        assert orphans, "the kill left no unreferenced file: nothing to heal"

        print(manage(env, "sweep_stores", "--grace-seconds", "0"))

        rows = {h for (h,) in db.execute("SELECT hash FROM images")}
        files = store_files(images)
        assert {p.name.split(".")[0] for p in files} == rows  # no orphan file, no row without its file
        assert db.execute("SELECT COUNT(*) FROM images WHERE task_id = ?", (kept,)).fetchone()[0] == 1
        assert not (images / "tmp").exists() or not any((images / "tmp").iterdir())
    finally:
        db.close()
