"""Every `manage.py` command of ours works on a fresh, empty SDHOST_DATA_DIR, as a new user runs it:
in its own process, before any `migrate` or `serve`; expected failures are one line, never a traceback."""

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.support.fake_civitai import FakeCivitai

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fresh(tmp_path):
    """An environment whose data directory does not exist yet; Civitai on a closed port unless a test says."""
    data = tmp_path / "data"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SDHOST_")}
    env.update(SDHOST_DATA_DIR=str(data), SDHOST_LOG_LEVEL="WARNING", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               SDHOST_CIVITAI_BASE_URL=f"http://127.0.0.1:{free_port()}")
    return env


def manage(env, *args, timeout=300):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def succeeded(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.strip().splitlines()[-1]


def database(env):
    return sqlite3.connect(Path(env["SDHOST_DATA_DIR"]) / "sdhost.sqlite3", timeout=30)


def test_make_test_checkpoint_then_import_model(fresh, tmp_path):
    checkpoint = succeeded(manage(fresh, "make_test_checkpoint", str(tmp_path / "tiny.safetensors")))
    model_hash = succeeded(manage(fresh, "import_model", checkpoint, "--name", "tiny"))
    with database(fresh) as db:
        assert db.execute("SELECT name, type FROM models WHERE hash = ?", (model_hash,)).fetchone() == (
            "tiny", "checkpoint")


def test_import_image(fresh, tmp_path):
    png = tmp_path / "red.png"
    Image.new("RGB", (24, 16), (200, 30, 30)).save(png)
    image_hash = succeeded(manage(fresh, "import_image", str(png)))
    with database(fresh) as db:
        assert db.execute("SELECT width, height FROM images WHERE hash = ?", (image_hash,)).fetchone() == (24, 16)


def test_import_civitai(fresh):
    data = os.urandom(300_000)
    with FakeCivitai() as civitai:
        civitai.add_model(10391, "Dreamlike Valley")
        civitai.add_version(10391, 88214, data, file_name="dreamlikeValley.safetensors")
        model_hash = succeeded(manage({**fresh, "SDHOST_CIVITAI_BASE_URL": civitai.base_url}, "import_civitai", "88214"))
    with database(fresh) as db:
        assert db.execute("SELECT status, size FROM models WHERE hash = ?", (model_hash,)).fetchone() == (
            "ready", len(data))


def test_runworker_render(fresh):
    worker = subprocess.Popen([sys.executable, "manage.py", "runworker", "render"], cwd=ROOT, env=fresh,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        heartbeat, deadline = None, time.monotonic() + 120
        while heartbeat is None and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with database(fresh) as db:
                    heartbeat = db.execute("SELECT pid FROM render_workers WHERE pid = ?", (worker.pid,)).fetchone()
            except sqlite3.OperationalError:  # no database or no tables yet
                pass
        assert heartbeat is not None, worker.stderr.read() if worker.poll() is not None else "no heartbeat"
        assert heartbeat[0] == worker.pid
    finally:
        worker.terminate()
        worker.wait(30)


def test_doctor(fresh):
    result = manage(fresh, "doctor")
    assert succeeded(result).startswith(("All is well.", "No failures ("))
    assert "migration(s) to apply" in result.stdout  # reports, does not change: the first serve or import migrates
    assert "WARN  Civitai" in result.stdout and "WARN  Render worker  none has run with this database yet" in result.stdout


def test_serve_prints_the_banner(fresh):
    port = free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--no-worker"], cwd=ROOT,
                              env=fresh, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(180, server.kill)  # a hung start-up fails the test instead of blocking it
    watchdog.start()
    try:
        lines = []
        while not any("Admin user" in line for line in lines) and (line := server.stdout.readline()):
            lines.append(line.rstrip())
        text = "\n".join(lines)
        assert f"API           http://127.0.0.1:{port}/api\n" in text + "\n", text
        assert f"API docs      http://127.0.0.1:{port}/api/docs" in text
        assert f"Data          {fresh['SDHOST_DATA_DIR']}\n" in text
        assert f"Database      SQLite {fresh['SDHOST_DATA_DIR']}/sdhost.sqlite3" in text
        assert "Renders on    " in text and "Token         not required" in text
        assert "Worker        not in this process" in text
        assert "Admin user    none yet: create one with 'python manage.py createsuperuser'" in text
    finally:
        watchdog.cancel()
        server.terminate()
        server.wait(30)


def test_expected_failures_are_one_line(fresh, tmp_path):
    missing = manage(fresh, "import_image", str(tmp_path / "missing.png"))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [(f"CommandError: {tmp_path / 'missing.png'}: [Errno 2] No such "
                                                    f"file or directory: '{tmp_path / 'missing.png'}'")]
    unopenable = manage({**fresh, "SDHOST_DATABASE_PATH": str(tmp_path / "no" / "such" / "dir" / "db.sqlite3")},
                        "import_model", str(tmp_path / "x.safetensors"))
    assert unopenable.returncode == 1
    assert unopenable.stderr.strip().splitlines() == [
        (f"CommandError: Cannot prepare the database (SQLite {tmp_path}/no/such/dir/db.sqlite3): unable to open "
         "database file")]
    (tmp_path / "a-file").write_text("")
    no_data_dir = manage({**fresh, "SDHOST_DATA_DIR": str(tmp_path / "a-file" / "data")}, "import_image", "x.png")
    assert no_data_dir.returncode == 1
    assert no_data_dir.stderr.strip().splitlines() == [
        f"SD-Host cannot create its data directory {tmp_path}/a-file/data: Not a directory; set SDHOST_DATA_DIR"]
