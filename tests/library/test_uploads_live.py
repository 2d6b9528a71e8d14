"""POST /api/images/upload through the real server: bodies stream to disk, and one over the limit is cut short."""

import hashlib
import io
import json
import socket
from urllib.parse import urlsplit

import psutil
import pytest
import requests
from PIL import Image as PILImage

MIB = 1024 * 1024


def noise_png(width, height) -> bytes:
    """A PNG of random pixels: it does not compress, so its size is about width * height * 3."""
    import os

    image = PILImage.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=0)
    return out.getvalue()


def raw_exchange(live_url, head: bytes, body_chunks=()) -> tuple[bytes, dict]:
    """Send `head` then `body_chunks` on a raw socket (stopping if the server closes); (status line, JSON body)."""
    url = urlsplit(live_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed without reading the rest
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    return status, json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.fixture
def upload_limit(settings, live_url):
    settings.SDHOST = {**settings.SDHOST, "MAX_UPLOAD_BYTES": 8 * MIB}
    return 8 * MIB


def test_declared_body_over_the_limit_is_refused_unread(live_url, upload_limit):
    head = (b"POST /api/images/upload HTTP/1.1\r\nHost: sdhost\r\nContent-Type: image/png\r\n"
            b"Content-Length: 4294967296\r\n\r\n")  # 4 GiB announced, none of it sent
    status, document = raw_exchange(live_url, head)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert document["errors"][0]["code"] == "payload_too_large"


def test_chunked_body_over_the_limit_stops_at_the_limit(live_url, upload_limit):
    server = psutil.Process()
    before = server.memory_info().rss
    head = b"POST /api/images/upload HTTP/1.1\r\nHost: sdhost\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
    block = b"%x\r\n%s\r\n" % (256 * 1024, bytes(256 * 1024))
    status, document = raw_exchange(live_url, head, [block] * 384)  # 96 MiB, no length announced
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert document["errors"][0]["code"] == "payload_too_large"
    assert server.memory_info().rss - before < 32 * MIB


@pytest.mark.parametrize("form", ["raw", "multipart"])
def test_upload_larger_than_the_memory_spool_is_stored_whole(live_url, form):
    data = noise_png(1900, 1900)  # ~10.3 MiB: past FILE_UPLOAD_MAX_MEMORY_SIZE, so spooled to disk
    assert len(data) > 10 * MIB
    url = f"{live_url}/api/images/upload"
    if form == "raw":
        response = requests.post(url, data=data, headers={"Content-Type": "image/png"}, timeout=120)
    else:
        response = requests.post(url, files={"file": ("noise.png", data, "image/png")}, timeout=120)
    assert response.status_code == 201, response.text
    sha = hashlib.sha256(data).hexdigest()
    assert response.json()["data"]["id"] == sha
    assert requests.get(f"{live_url}/api/images/{sha}/content", timeout=120).content == data


@pytest.mark.parametrize("path", ["/sdapi/v1/img2img", "/controlnet/detect"])
def test_a_body_over_the_limit_under_the_a1111_api_is_refused_in_its_shape(live_url, upload_limit, path):
    """The 413 of the server's body limit came as a JSON:API document under /sdapi too (#23 item 8)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: sdhost\r\nContent-Type: application/json\r\n"
            "Content-Length: 4294967296\r\n\r\n").encode()
    status, document = raw_exchange(live_url, head)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert set(document) == {"error", "detail", "body", "errors"} and document["error"] == "PayloadTooLarge"
    chunked = f"POST {path} HTTP/1.1\r\nHost: sdhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    block = b"%x\r\n%s\r\n" % (256 * 1024, b" " * (256 * 1024))
    status, document = raw_exchange(live_url, chunked.encode(), [block] * 384)  # 96 MiB, no length announced
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert document["error"] == "PayloadTooLarge" and "8454144 bytes" in document["detail"]
