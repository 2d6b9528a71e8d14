"""`manage.py serve` as a user runs it, in its own process: stopping with Ctrl+C while streams are open (issue 22
item 12) and starting on a port that is taken (item 16)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]


def serve_env(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("SDHOST_")}
    env.update(SDHOST_DATA_DIR=str(tmp_path / "data"), SDHOST_AUTO_DOWNLOAD="0", PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS="1")
    return env


def start_serve(env, port):
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/version", timeout=5)
            return server
        except requests.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise AssertionError(f"serve did not start:\n{server.communicate()[0]}") from None
            time.sleep(0.2)


def test_ctrl_c_with_open_streams_stops_quietly_at_once(tmp_path):
    """With the UI open (a queue stream), Ctrl+C waited 5 s for the stream, then logged an ERROR and cancelled it
    with two tracebacks. Every stream now ends at once and the server exits quietly."""
    port = free_port()
    server = start_serve(serve_env(tmp_path), port)
    streams = [requests.get(f"http://127.0.0.1:{port}/api/tasks/queue", stream=True, timeout=30) for _ in range(2)]
    try:
        lines = [stream.iter_lines() for stream in streams]
        for stream_lines in lines:
            assert next(line for line in stream_lines if line.startswith(b"data: "))
        server.send_signal(signal.SIGINT)
        started = time.monotonic()
        for stream_lines in lines:
            assert [line for line in stream_lines if line.startswith(b"data: ")] == []  # the stream ends cleanly
        output, _ = server.communicate(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        for stream in streams:
            stream.close()
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, output
    assert "Traceback" not in output and "ERROR" not in output, output
    assert elapsed < 3, f"serve took {elapsed:.1f} s to stop:\n{output}"


def test_a_busy_port_is_one_line_naming_port_and_sdhost_port_before_the_banner(tmp_path):
    """serve printed its whole banner with URLs of a port it could not have, then uvicorn's bind error."""
    env = serve_env(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        for args, extra in ((["--port", str(port)], {}), ([], {"SDHOST_PORT": str(port)})):
            result = subprocess.run([sys.executable, "manage.py", "serve", *args], cwd=ROOT, env={**env, **extra},
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 1, result
            assert result.stdout == "", result.stdout  # no banner
            [line] = result.stderr.strip().splitlines()
            assert line.startswith(f"CommandError: Port {port} on 127.0.0.1 is already in use")
            assert "--port" in line and "SDHOST_PORT" in line
            assert not (tmp_path / "data" / "sdhost.sqlite3").exists()  # refused before anything was done
