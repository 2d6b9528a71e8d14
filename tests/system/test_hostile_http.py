"""A hostile client on a real socket against the real server (uvicorn + sdhost.asgi), issue 8 items 3, 4, 5, 8:
paths sent as is, methods the SSE routes do not take, malformed multipart uploads, what the server refuses itself."""

import json
import socket
from urllib.parse import urlparse

import pytest

from images_app.models import Image
from tests.support.factories import make_model


def exchange(live_url, head: str, body: bytes = b"") -> tuple[int | None, dict, bytes]:
    """Send one request exactly as written; (status or None when the server just closed, headers, body)."""
    url = urlparse(live_url)
    request = head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    if not answer:
        return None, {}, b""
    top, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = top.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    if headers.get("transfer-encoding") == "chunked":
        content = dechunk(content)
    return int(status_line.split()[1]), headers, content


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def request(live_url, method, path, headers=(), body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return exchange(live_url, "\n".join(lines) + "\n", body)


def json_error(status, headers, content, expected_status, code):
    assert status == expected_status, content
    assert headers["content-type"].startswith("application/json"), (headers, content)
    error = json.loads(content)["errors"][0]
    assert error["status"] == str(expected_status) and error["code"] == code, error
    return error


# --- item 3: static files --------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/static/../../etc/passwd", "/static/../../../../../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd",
    "/static/admin/../../../../etc/passwd",
])
def test_static_path_traversal_is_404(live_url, path):
    status, _, content = request(live_url, "GET", path)
    assert status == 404, content
    assert b"root:" not in content


def test_static_files_are_still_served(live_url):
    status, headers, _ = request(live_url, "GET", "/static/admin/css/base.css")
    assert status == 200 and headers["content-type"].startswith("text/css")


# --- item 4: methods -------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "HEAD"])
def test_sse_routes_answer_other_methods_with_json_405_and_allow(live_url, method):
    model = make_model()
    for path in ("/api/tasks/queue", f"/api/models/add-from-civitai/{model.hash}"):
        status, headers, content = request(live_url, method, path)
        assert status == 405, (path, content)
        assert headers["allow"] == "GET"
        if method != "HEAD":
            error = json_error(status, headers, content, 405, "method_not_allowed")
            assert method in error["detail"]


@pytest.mark.parametrize("path", ["/api/models", "/api/version", "/api/tasks/promote", "/api/nope/x"])
def test_trace_answers_json_with_allow(live_url, path):
    status, headers, content = request(live_url, "TRACE", path)
    if status == 404:  # no such route: a JSON 404, and no Allow to state
        json_error(status, headers, content, 404, "not_found")
        return
    json_error(status, headers, content, 405, "method_not_allowed")
    assert "GET" in headers["allow"] or "PUT" in headers["allow"]
    assert "TRACE" not in headers["allow"]


# --- item 5: uploads ------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type,body", [
    ("multipart/form-data", b"--x\r\n"),  # no boundary
    ("multipart/form-data; boundary=x", b"--x--\r\n"),  # no parts
    ("multipart/form-data; boundary=x", b"garbage"),
    ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--x--\r\n'),
])
def test_malformed_multipart_uploads_are_json_errors(live_url, content_type, body):
    status, headers, content = request(live_url, "POST", "/api/images/upload", [f"Content-Type: {content_type}"], body)
    json_error(status, headers, content, 400, "invalid_request")
    assert not Image.objects.exists()


def test_json_api_media_type_over_the_wire(live_url):
    model = make_model()
    body = json.dumps({"rating": 4}).encode()
    status, _, content = request(live_url, "POST", f"/api/models/{model.hash}",
                                 ["Content-Type: application/vnd.api+json"], body)
    assert status == 200, content
    status, headers, content = request(live_url, "POST", f"/api/models/{model.hash}", ["Content-Type: text/csv"], body)
    json_error(status, headers, content, 415, "unsupported_media_type")


# --- item 8: limits the HTTP server (uvicorn + httptools) enforces before Django (docs/configuration.md) ---

SERVER_REFUSAL = b"Invalid HTTP request received."


def test_what_the_server_refuses_never_reaches_django(live_url):
    """Documented limits: a request target over 64 KiB, raw non-ASCII bytes in the target or a Content-Length that
    is not a number get uvicorn's plain 400; below the limits, and with many or large headers, the API answers."""
    status, _, content = request(live_url, "GET", "/api/models?q=" + "a" * 70_000)
    assert status == 400 and content == SERVER_REFUSAL
    status, _, content = exchange(live_url, "GET /api/models/\xff HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n")
    assert status == 400 and content == SERVER_REFUSAL
    status, _, content = exchange(live_url, "POST /api/models HTTP/1.1\nHost: 127.0.0.1\nContent-Length: abc\n"
                                            "Connection: close\n")
    assert status == 400 and content == SERVER_REFUSAL
    status, headers, content = request(live_url, "GET", "/api/models?filter[name]=" + "a" * 60_000)
    assert status == 200 and json.loads(content)["data"] == []
    status, headers, content = request(live_url, "GET", "/api/models", [f"X-H{i}: 1" for i in range(600)])
    assert status == 200 and headers["content-type"] == "application/json"


@pytest.mark.parametrize("head", [
    "GET /api/models?{query} HTTP/1.1\nHost: 127.0.0.1",  # more parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS
    "GET /api/models HTTP/1.1\nHost: bad host!",  # Django's DisallowedHost, raised in a middleware
    "POST /api/models HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/x-www-form-urlencoded\nContent-Length: 3",
    "GET /api/models?page[size]=%FF HTTP/1.1\nHost: 127.0.0.1",
    "GET /api/images/%00 HTTP/1.1\nHost: 127.0.0.1",
])
def test_everything_reaching_django_under_api_answers_a_json_4xx(live_url, settings, head):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    head = head.format(query="&".join(f"p{i}=1" for i in range(200)))
    body = b"a=b" if "Content-Length" in head else b""
    status, headers, content = exchange(live_url, head + "\nConnection: close\n", body)
    assert status is not None and 400 <= status < 500, (status, content)
    assert headers["content-type"].startswith("application/json"), (status, content)
    assert json.loads(content)["errors"][0]["status"] == str(status)
