"""A full disk during a render (issue 23, item 1): the task fails with the reason, the worker lives on.

A real `manage.py runworker render` process keeps its data directory (the SQLite database and the image store) on
a small tmpfs; the test fills it while a task renders. The progress writes, the image store and the failure
handler's own write then all fail. Once space is free again, the task must be failed (not `running` for ever) and
the next task must render. Needs root to mount the tmpfs; skipped with the reason elsewhere.
"""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.library.test_full_disk import fill, tmpfs
from tests.tasks.test_worker_crash_sweep import submit
from tests.tasks.test_worker_runworker import manage

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 120


def wait_until(predicate, what, worker, log):
    deadline = time.monotonic() + DEADLINE
    while not (value := predicate()):
        assert worker.poll() is None, f"the worker process exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}; worker log:\n{log.read_text()}"
        time.sleep(0.1)
    return value


def test_a_full_disk_during_a_render_fails_the_task_and_the_worker_renders_the_next_one(tmp_path):
    with tmpfs(tmp_path / "disk", size="16m") as disk:
        data = disk / "data"
        log = tmp_path / "worker.log"
        env = {**os.environ, "SDHOST_DATA_DIR": str(data), "SDHOST_MODELS_PATH": str(tmp_path / "models"),
               "SDHOST_CACHE_PATH": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1", "SDHOST_LOG_LEVEL": "WARNING"}
        env.pop("SDHOST_DATABASE_PATH", None)
        env.pop("SDHOST_DATABASE_URL", None)  # the database is the SQLite file on the small disk
        manage(env, "migrate")
        checkpoint = manage(env, "make_test_checkpoint", str(tmp_path / "tiny.safetensors")).splitlines()[-1]
        manage(env, "import_model", checkpoint, "--name", "tiny")
        rendering = submit(env, seed=1, batch_size=1, steps=30)

        with open(log, "w") as log_file:
            worker = subprocess.Popen([sys.executable, "manage.py", "runworker", "render"], cwd=ROOT, env=env,
                                      stdout=log_file, stderr=subprocess.STDOUT)
        db = sqlite3.connect(data / "sdhost.sqlite3", timeout=30)
        try:
            def status(task_id):
                return db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()[0]

            wait_until(lambda: status(rendering) == "running", "the task to start", worker, log)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # so the next write must grow the write-ahead log
            filler = fill(disk)
            # the render ends, its images cannot be stored, and recording the failure fails too
            wait_until(lambda: f"Task(s) {rendering} failed" in log.read_text(), "the render to fail", worker, log)
            time.sleep(1)
            assert status(rendering) == "running"  # nothing could be written meanwhile
            filler.unlink()

            wait_until(lambda: status(rendering) != "running", "the failure to be recorded", worker, log)
            failed, message = db.execute("SELECT status, error_message FROM tasks WHERE id = ?",
                                         (rendering,)).fetchone()
            assert failed == "failed" and message.startswith("The disk is full"), message
            after = submit(env, seed=2, batch_size=1)
            wait_until(lambda: status(after) == "completed", "the next task to render", worker, log)
            assert db.execute("SELECT COUNT(*) FROM images WHERE task_id = ?", (after,)).fetchone()[0] == 1
            assert "render worker thread crashed" not in log.read_text()
        finally:
            db.close()
            worker.terminate()
            worker.wait(30)
