"""`manage.py serve` writes no API token to its access log (issue 8, item 12)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sdhost.access_log import redact

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sekrit-token-4f1c"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redact_hides_only_the_token_value():
    assert redact(f"/api/tasks/queue?token={TOKEN}") == "/api/tasks/queue?token=[REDACTED]"
    assert redact(f"/api/x?a=1&token={TOKEN}&b=2") == "/api/x?a=1&token=[REDACTED]&b=2"
    assert redact(f"/api/x?%74oken={TOKEN}") == "/api/x?%74oken=[REDACTED]"
    assert redact("/api/models?filter[name]=token") == "/api/models?filter[name]=token"


@pytest.mark.parametrize("uri,logged", [
    (f"/api/x?TOKEN={TOKEN}", "/api/x?TOKEN=[REDACTED]"),
    (f"/api/x?Token={TOKEN}&b=2", "/api/x?Token=[REDACTED]&b=2"),
    (f"/api/x?token%3D{TOKEN}", "/api/x?token=[REDACTED]"),
    (f"/api/x?token%3d{TOKEN}&b=2", "/api/x?token=[REDACTED]&b=2"),
    (f"/api/x?token%253D{TOKEN}", "/api/x?token=[REDACTED]"),
    (f"/api/x?a=1;token={TOKEN}", "/api/x?a=1;token=[REDACTED]"),
    (f"/api/x?%54OKEN={TOKEN}", "/api/x?%54OKEN=[REDACTED]"),
    (f"/api/x?+token+={TOKEN}", "/api/x?+token+=[REDACTED]"),
    (f"/api/x?tok%65n%3D{TOKEN}=1", "/api/x?token=[REDACTED]"),
    ("/api/x?tokens=1&my_token=2&token", "/api/x?tokens=1&my_token=2&token"),
])
def test_redact_every_spelling_of_the_token_key(uri, logged):
    """Issue 23, item 7: the token was written under other spellings of its key."""
    assert redact(uri) == logged


def test_redact_the_configured_token_wherever_it_is():
    assert redact(f"/api/x/{TOKEN}?auth={TOKEN}", TOKEN) == "/api/x/[REDACTED]?auth=[REDACTED]"
    assert redact("/api/x?auth=a%2Bb%2Fc", "a+b/c") == "/api/x?auth=[REDACTED]"


def test_serve_access_log_redacts_token_query_parameter(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SDHOST_DATABASE_PATH"}
    env.update(SDHOST_DATA_DIR=str(tmp_path), SDHOST_API_TOKEN=TOKEN, SDHOST_AUTO_DOWNLOAD="0",
               PYTHONUNBUFFERED="1")
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--no-worker", "--port", str(port)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{base}/api/version", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.2)
        with requests.get(f"{base}/api/tasks/queue?token={TOKEN}", stream=True, timeout=10) as stream:
            assert stream.status_code == 200
        assert requests.get(f"{base}/api/models?page[size]=1&token={TOKEN}", timeout=10).status_code == 401
        for query in (f"TOKEN={TOKEN}", f"token%3D{TOKEN}", f"a=1;token={TOKEN}", f"auth={TOKEN}"):
            assert requests.get(f"{base}/api/version?{query}", timeout=10).status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert "GET /api/models?page%5Bsize%5D=1&token=[REDACTED]" in output, output  # uvicorn quotes the path
    for logged in ("?TOKEN=[REDACTED]", "?token=[REDACTED] ", "?a=1;token=[REDACTED]", "?auth=[REDACTED]"):
        assert f"GET /api/version{logged}" in output, output
    assert TOKEN not in output
