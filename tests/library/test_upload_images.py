"""POST /api/images/upload (D25): multipart or raw body, Pillow-verified, 201 new / 200 known, 413 over limit."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images_app.models import Image
from images_app.storage import image_file_path
from tests.support.api import assert_error
from tests.support.factories import png_bytes

pytestmark = pytest.mark.django_db


def small_limit(settings, limit):
    settings.SDHOST = {**settings.SDHOST, "MAX_UPLOAD_BYTES": limit}


def test_multipart_upload_creates_then_finds(api):
    data = png_bytes(width=32, height=24, parameters="a cat\nSteps: 20, Seed: 1")
    sha = hashlib.sha256(data).hexdigest()
    response = api.post("/api/images/upload", {"file": SimpleUploadedFile("cat.png", data, "image/png")})
    assert response.status_code == 201, response.content
    document = response.json()
    assert document["data"]["type"] == "image" and document["data"]["id"] == sha
    assert document["data"]["attributes"]["width"] == 32 and document["data"]["attributes"]["height"] == 24
    assert document["data"]["attributes"]["metadata"] == {"parameters": "a cat\nSteps: 20, Seed: 1"}
    assert response["Location"] == f"/api/images/{sha}"
    assert image_file_path(Image.objects.get(pk=sha)).read_bytes() == data
    again = api.post("/api/images/upload", {"file": SimpleUploadedFile("other-name.png", data, "image/png")})
    assert again.status_code == 200 and again.json()["data"]["id"] == sha
    assert Image.objects.count() == 1


@pytest.mark.parametrize("fmt,content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_raw_upload(api, fmt, content_type):
    data = png_bytes(fmt=fmt)
    response = api.post("/api/images/upload", data, content_type=content_type)
    assert response.status_code == 201, response.content
    image = Image.objects.get(pk=response.json()["data"]["id"])
    assert image.format == {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}[fmt]
    assert api.post("/api/images/upload", data, content_type=content_type).status_code == 200


@pytest.mark.parametrize("data,content_type", [
    (b"not an image at all", "image/png"),
    (png_bytes()[:40], "image/png"),  # truncated
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
    (b"", "image/png"),
])
def test_raw_rejects_non_images(api, data, content_type):
    assert_error(api.post("/api/images/upload", data, content_type=content_type), 400, "invalid_request")
    assert not Image.objects.exists()


def test_other_format_decodable_by_pillow_is_rejected(api):
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 4)).save(buffer, "GIF")
    response = api.post("/api/images/upload", {"file": SimpleUploadedFile("x.gif", buffer.getvalue(), "image/gif")})
    assert_error(response, 400, "invalid_request")
    assert_error(api.post("/api/images/upload", buffer.getvalue(), content_type="image/png"), 400, "invalid_request")


def test_multipart_without_file_field(api):
    assert_error(api.post("/api/images/upload", {"image": SimpleUploadedFile("x.png", png_bytes())}), 400, "invalid_request")
    assert_error(api.post("/api/images/upload", {"note": "hi"}), 400, "invalid_request")


def test_json_body_is_415(api):
    assert_error(api.post_json("/api/images/upload", {"file": "abc"}), 415, "unsupported_media_type")


def test_oversize_raw_and_multipart_413(api, settings):
    data = png_bytes(width=64, height=64)
    small_limit(settings, len(data) - 1)
    assert_error(api.post("/api/images/upload", data, content_type="image/png"), 413, "payload_too_large")
    response = api.post("/api/images/upload", {"file": SimpleUploadedFile("x.png", data, "image/png")})
    assert_error(response, 413, "payload_too_large")
    assert not Image.objects.exists()
    small_limit(settings, len(data))
    assert api.post("/api/images/upload", data, content_type="image/png").status_code == 201


def test_huge_declared_body_refused_before_reading(api, settings):
    small_limit(settings, 1000)
    response = api.post("/api/images/upload", b"\0" * 200_000, content_type="image/png")
    assert_error(response, 413, "payload_too_large")


def test_django_body_limit_also_gives_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api.post("/api/images/upload", {"file": SimpleUploadedFile("x.png", png_bytes()), "note": "n" * 500})
    assert_error(response, 413, "payload_too_large")


def test_uploaded_image_usable_as_cover(api):
    from tests.support.factories import make_model

    data = png_bytes()
    sha = api.post("/api/images/upload", data, content_type="image/png").json()["data"]["id"]
    model = make_model()
    assert api.post_json(f"/api/models/{model.hash}", {"cover_image": sha}).status_code == 200
