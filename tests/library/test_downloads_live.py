"""Large downloads through the real server (uvicorn): bounded memory for slow clients; HTTP semantics unchanged."""

import hashlib
import socket
import time
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from models_app.models import SDModel
from models_app.storage import model_store
from tests.support.factories import make_model

MIB = 1024 * 1024


@pytest.fixture
def large_model(live_url):
    """A ready model whose file is 512 MiB of zeros, written sparse (instant, and read without disk I/O)."""
    size = 512 * MIB
    digest = hashlib.sha256()
    zeros = bytes(MIB)
    for _ in range(size // MIB):
        digest.update(zeros)
    sha = digest.hexdigest()
    path = model_store().path(sha, ".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    model = SDModel.objects.create(hash=sha, name="large", model_type="checkpoint", status="ready", size=size,
                                   file_ext=".safetensors")
    yield model, path
    path.unlink()


def file_is_open(path) -> bool:
    return any(f.path == str(path) for f in psutil.Process().open_files())


def wait_until(condition, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_slow_client_holds_bounded_memory_and_closing_frees_it(live_url, large_model):
    """A client reading 64 KiB every 50 ms (1.25 MiB/s) from a 512 MiB file: the server (this process)
    reads the file only as fast as the client takes it; closing the socket ends the response."""
    model, path = large_model
    url = urlsplit(live_url)
    server = psutil.Process()
    requests.get(f"{live_url}/api/models/{model.hash}", timeout=30).raise_for_status()  # warm the request path
    baseline = server.memory_info().rss
    peak = baseline

    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    sock.sendall(f"GET /api/models/{model.hash}/content HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
    received = bytearray()
    started = time.monotonic()
    while time.monotonic() - started < 5:
        chunk = sock.recv(64 * 1024)
        assert chunk, "the server closed the connection early"
        received += chunk
        peak = max(peak, server.memory_info().rss)
        time.sleep(0.05)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: 536870912" in head.lower()
    assert len(body) > MIB and body.count(0) == len(body)
    assert file_is_open(path)  # the response is in progress, not finished into a buffer
    assert peak - baseline < 64 * MIB, f"RSS grew by {(peak - baseline) / MIB:.0f} MiB for a slow client"

    sock.close()
    assert wait_until(lambda: not file_is_open(path)), "the response went on after the client disconnected"
    assert server.memory_info().rss - baseline < 32 * MIB
    assert requests.head(f"{live_url}/api/models/{model.hash}/content", timeout=30).status_code == 200


def test_head_range_if_range_and_disposition_through_the_server(live_url):
    content = bytes(range(256)) * 12288  # 3 MiB: several blocks
    model = make_model(name="Ünïcode model", content=content)
    url = f"{live_url}/api/models/{model.hash}/content"
    full = requests.get(url, timeout=60)
    assert full.status_code == 200 and full.content == content
    assert full.headers["Content-Disposition"] == (
        "attachment; filename=\"_n_code model.safetensors\"; filename*=UTF-8''%C3%9Cn%C3%AFcode%20model.safetensors"
    )
    assert full.headers["Accept-Ranges"] == "bytes" and full.headers["ETag"] == f'"{model.hash}"'

    head = requests.head(url, timeout=60)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(content))
    assert {k: v for k, v in head.headers.items() if k != "Date"} == {
        k: v for k, v in full.headers.items() if k != "Date"
    }
    ranged_head = requests.head(url, headers={"Range": "bytes=100-199"}, timeout=60)
    assert ranged_head.status_code == 206 and ranged_head.headers["Content-Length"] == "100"
    assert ranged_head.headers["Content-Range"] == f"bytes 100-199/{len(content)}"

    middle = requests.get(url, headers={"Range": f"bytes={MIB - 10}-{2 * MIB + 9}"}, timeout=60)
    assert middle.status_code == 206 and middle.content == content[MIB - 10:2 * MIB + 10]
    same = requests.get(url, headers={"Range": "bytes=-5", "If-Range": f'"{model.hash}"'}, timeout=60)
    assert same.status_code == 206 and same.content == content[-5:]
    changed = requests.get(url, headers={"Range": "bytes=-5", "If-Range": '"another"'}, timeout=60)
    assert changed.status_code == 200 and changed.content == content
    assert requests.get(url, headers={"If-None-Match": f'"{model.hash}"'}, timeout=60).status_code == 304
