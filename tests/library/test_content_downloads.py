"""GET /api/models/{hash}/content and /api/images/{hash}/content: headers, ranges, If-Range (D21)."""

import pytest

from core.downloads import attachment_header
from tests.support.api import assert_error
from tests.support.factories import make_image, make_model, png_bytes

pytestmark = pytest.mark.django_db

CONTENT = bytes(range(256)) * 40  # 10240 bytes


def body(response):
    return b"".join(response.streaming_content)


def test_model_download_headers_and_bytes(api):
    model = make_model(name="dreamlike-valley-v3", content=CONTENT, file_ext=".safetensors")
    response = api.get(f"/api/models/{model.hash}/content")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="dreamlike-valley-v3.safetensors"'
    assert response["Content-Length"] == str(len(CONTENT))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{model.hash}"'
    assert body(response) == CONTENT


def test_real_extension_is_used(api):
    model = make_model(name="old", content=b"x" * 100, file_ext=".ckpt")
    assert api.get(f"/api/models/{model.hash}/content")["Content-Disposition"] == 'attachment; filename="old.ckpt"'


def test_filename_is_sanitised(api):
    model = make_model(name='../evil"\r\nX-Injected: 1', content=b"y" * 100)
    header = api.get(f"/api/models/{model.hash}/content")["Content-Disposition"]
    assert "\r" not in header and "\n" not in header and "/" not in header.split("filename*")[0]
    assert header.startswith('attachment; filename="')


def test_non_ascii_name_gets_rfc5987_filename():
    assert attachment_header("Ünïcode 模型.safetensors") == (
        "attachment; filename=\"_n_code __.safetensors\"; "
        "filename*=UTF-8''%C3%9Cn%C3%AFcode%20%E6%A8%A1%E5%9E%8B.safetensors"
    )
    assert attachment_header("plain.ckpt") == 'attachment; filename="plain.ckpt"'


@pytest.mark.parametrize("status", ["downloading", "failed"])
def test_model_not_ready_409(api, status):
    model = make_model(status=status)
    assert_error(api.get(f"/api/models/{model.hash}/content"), 409, "model_not_ready")


def test_unknown_404(api):
    assert_error(api.get("/api/models/" + "0" * 64 + "/content"), 404, "not_found")
    assert_error(api.get("/api/images/" + "0" * 64 + "/content"), 404, "not_found")
    assert_error(api.get("/api/models/..%2F..%2Fsdhost.sqlite3/content"), 404, "not_found")


@pytest.mark.parametrize("range_header,start,end", [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, len(CONTENT) - 1),
    ("bytes=-500", len(CONTENT) - 500, len(CONTENT) - 1),
    ("bytes=10000-999999", 10000, len(CONTENT) - 1),
    ("bytes=-999999", 0, len(CONTENT) - 1),
    ("bytes=5-5", 5, 5),
])
def test_ranges(api, range_header, start, end):
    model = make_model(content=CONTENT)
    response = api.get(f"/api/models/{model.hash}/content", HTTP_RANGE=range_header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert body(response) == CONTENT[start:end + 1]


@pytest.mark.parametrize("range_header", ["bytes=10240-", "bytes=99999-100000", "bytes=-0"])
def test_unsatisfiable_range_416(api, range_header):
    model = make_model(content=CONTENT)
    response = api.get(f"/api/models/{model.hash}/content", HTTP_RANGE=range_header)
    assert_error(response, 416, "range_not_satisfiable")
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"


@pytest.mark.parametrize("range_header", ["items=0-5", "bytes=0-5,10-20", "bytes=9-3", "garbage"])
def test_unusable_range_headers_give_full_file(api, range_header):
    model = make_model(content=CONTENT)
    response = api.get(f"/api/models/{model.hash}/content", HTTP_RANGE=range_header)
    assert response.status_code == 200 and body(response) == CONTENT


def test_if_range(api):
    model = make_model(content=CONTENT)
    url = f"/api/models/{model.hash}/content"
    match = api.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{model.hash}"')
    assert match.status_code == 206 and body(match) == CONTENT[:10]
    mismatch = api.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"other"')
    assert mismatch.status_code == 200 and body(mismatch) == CONTENT
    dated = api.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE="Wed, 21 Oct 2015 07:28:00 GMT")
    assert dated.status_code == 200


def test_if_none_match_304(api):
    model = make_model(content=CONTENT)
    response = api.get(f"/api/models/{model.hash}/content", HTTP_IF_NONE_MATCH=f'"{model.hash}"')
    assert response.status_code == 304


def test_any_accept_header_still_gets_the_file(api):
    model = make_model(content=CONTENT)
    response = api.get(f"/api/models/{model.hash}/content", HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200 and body(response) == CONTENT


@pytest.mark.parametrize("fmt,content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_image_content(api, fmt, content_type):
    from images_app.storage import store_image_bytes

    data = png_bytes(width=16, height=12, fmt=fmt)
    image, _ = store_image_bytes(data)
    response = api.get(f"/api/images/{image.hash}/content", HTTP_ACCEPT="image/*")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Length"] == str(len(data))
    assert body(response) == data
    partial = api.get(f"/api/images/{image.hash}/content", HTTP_RANGE="bytes=-4")
    assert partial.status_code == 206 and body(partial) == data[-4:]


def test_head_request(api):
    image = make_image()
    response = api.head(f"/api/images/{image.hash}/content")
    assert response.status_code == 200
    assert int(response["Content-Length"]) == image.size
