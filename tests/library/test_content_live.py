"""Upload and ranged download through a real server (uvicorn) (ASGI body reading and file streaming)."""

import hashlib

import pytest
import requests

from tests.support.factories import make_model, png_bytes


def test_raw_upload_then_ranged_download(live_url):
    data = png_bytes(width=40, height=30)
    sha = hashlib.sha256(data).hexdigest()
    response = requests.post(f"{live_url}/api/images/upload", data=data, headers={"Content-Type": "image/png"}, timeout=60)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["id"] == sha
    full = requests.get(f"{live_url}/api/images/{sha}/content", timeout=60)
    assert full.status_code == 200 and full.content == data and full.headers["Content-Type"] == "image/png"
    part = requests.get(f"{live_url}/api/images/{sha}/content", headers={"Range": "bytes=8-15"}, timeout=60)
    assert part.status_code == 206 and part.content == data[8:16]
    assert part.headers["Content-Range"] == f"bytes 8-15/{len(data)}"


# Django's ASGI handler warns (and reads the whole file into memory) when a response can only iterate synchronously.
@pytest.mark.filterwarnings("error:StreamingHttpResponse must consume synchronous iterators")
def test_multipart_upload_and_large_model_stream(live_url):
    data = png_bytes(fmt="JPEG")
    response = requests.post(f"{live_url}/api/images/upload", files={"file": ("p.jpg", data, "image/jpeg")}, timeout=60)
    assert response.status_code == 201, response.text
    content = bytes(range(256)) * 8192  # 2 MiB: several stream blocks
    model = make_model(name="big", content=content)
    full = requests.get(f"{live_url}/api/models/{model.hash}/content", timeout=60)
    assert full.status_code == 200 and full.content == content
    assert full.headers["Content-Disposition"] == 'attachment; filename="big.safetensors"'
    tail = requests.get(f"{live_url}/api/models/{model.hash}/content", headers={"Range": "bytes=-300000"}, timeout=60)
    assert tail.status_code == 206 and tail.content == content[-300000:]
    missing = requests.get(f"{live_url}/api/models/{model.hash}/content", headers={"Range": f"bytes={len(content)}-"}, timeout=60)
    assert missing.status_code == 416 and missing.headers["Content-Range"] == f"bytes */{len(content)}"
    assert missing.json()["errors"][0]["code"] == "range_not_satisfiable"
