"""`manage.py serve` and `manage.py runworker render` sweep the stores at start-up (issue 8, item 9): old leftovers,
and the temporary file of a writer killed with SIGKILL whatever its age (issue 23, item 10)."""

import hashlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.content_store import ContentStore
from tests.library.test_store_sweep import killed_writer
from tests.tasks.test_worker_runworker import manage

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def old_file(path, data=b"leftover"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    past = time.time() - 2 * 3600
    os.utime(path, (past, past))
    return path


@pytest.mark.parametrize("command", [["serve", "--no-worker"], ["runworker", "render"]])
def test_start_up_removes_old_leftovers(tmp_path, command):
    data = tmp_path / "data"
    env = {**os.environ, "SDHOST_DATA_DIR": str(data), "SDHOST_AUTO_DOWNLOAD": "0", "SDHOST_LOG_LEVEL": "WARNING"}
    env.pop("SDHOST_DATABASE_PATH", None)
    manage(env, "migrate")
    sha = hashlib.sha256(b"leftover").hexdigest()
    leftovers = [old_file(data / "images" / sha[:2] / f"{sha}.png"), old_file(data / "images" / "tmp" / "x.part"),
                 old_file(data / "models" / sha[:2] / f"{sha}.safetensors")]
    young = old_file(data / "images" / "tmp" / "y.part")
    os.utime(young)
    _, killed = killed_writer(ContentStore(data / "images"))  # young too, but its writer is gone
    leftovers.append(killed)
    args = [*command, "--port", str(free_port())] if command[0] == "serve" else command
    process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while any(p.exists() for p in leftovers):
            assert time.monotonic() < deadline and process.poll() is None, "leftovers still there"
            time.sleep(0.2)
        assert young.exists()
    finally:
        process.terminate()
        process.wait(30)
