"""Hostile input to the library commands: always a JSON:API 4xx that changes nothing, never a 500."""

import json

import pytest

from models_app.models import SDModel
from system_app.models import Tag
from tests.support.api import assert_error
from tests.support.factories import make_image, make_model

pytestmark = pytest.mark.django_db

HOSTILE_IDS = [
    "..%2F..%2F..%2Fetc%2Fpasswd", "..", "%2e%2e", "' OR 1=1 --", "1; DROP TABLE models", "%00",
    "A" * 64, "a" * 63, "a" * 65, "g" * 64, "%E2%80%AE" + "a" * 60, "a" * 10000,
]


@pytest.mark.parametrize("pk", HOSTILE_IDS)
@pytest.mark.parametrize("entity", ["models", "images"])
def test_hostile_ids_are_404(api, entity, pk):
    make_model()
    make_image()
    assert_error(api.post_json(f"/api/{entity}/{pk}", {"rating": 1}), 404, "not_found")
    assert_error(api.delete(f"/api/{entity}/{pk}"), 404, "not_found")
    assert_error(api.get(f"/api/{entity}/{pk}/content"), 404, "not_found")
    assert SDModel.objects.count() == 1


@pytest.mark.parametrize("raw", [
    "{", "[", "{\"a\": }", "nul", "\xff\xfe", "{\"rating\": NaN}", "{\"rating\": Infinity}", "[]", "[{}]", "\"x\"",
    "1", "true", "null",
])
@pytest.mark.parametrize("target", ["one", "batch"])
def test_malformed_or_non_object_bodies(api, raw, target):
    model = make_model()
    url = f"/api/models/{model.hash}" if target == "one" else "/api/models"
    assert_error(api.post_json(url, raw.encode("latin-1")), 400, "invalid_request")
    assert_error(api.delete_json("/api/models", raw.encode("latin-1")), 400, "invalid_request")
    model.refresh_from_db()
    assert model.metadata == {}


def test_deeply_nested_json_is_400_not_500(api):
    model = make_model()
    raw = '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert_error(api.post_json(f"/api/models/{model.hash}", raw), 400, "invalid_request")


@pytest.mark.parametrize("body", [
    {"name": "\ud800"}, {"tag_\udfff": True}, {"tags": ["ok\ud800"]}, {"note": "\ud800"},
])
def test_lone_surrogates_are_400(api, body):
    model = make_model()
    raw = json.dumps(body)  # ensure_ascii keeps them as \\ud800 escapes, which json.loads turns back into surrogates
    assert_error(api.post_json(f"/api/models/{model.hash}", raw), 400, "invalid_request")
    assert not Tag.objects.exists()


def test_ten_megabyte_garbage_body(api):
    model = make_model()
    raw = b"{" + b"x" * (10 * 1024 * 1024)
    response = api.post_json(f"/api/models/{model.hash}", raw)
    assert response.status_code in (400, 413)
    assert response.json()["errors"][0]["code"] in ("invalid_request", "payload_too_large")


def test_body_over_the_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    model = make_model()
    body = {"note": "x" * 5000}
    assert_error(api.post_json(f"/api/models/{model.hash}", body), 413, "payload_too_large")
    assert_error(api.post_json("/api/models", {model.hash: body}), 413, "payload_too_large")
    assert_error(api.delete_json("/api/models", {"hashes": ["a" * 64] * 100}), 413, "payload_too_large")
    model.refresh_from_db()
    assert model.metadata == {}


def test_sql_ish_values_are_plain_data(api):
    model = make_model()
    evil = "'); DROP TABLE models; --"
    body = {"name": evil, "tag_x' OR '1'='1": True, "note": evil}
    assert api.post_json(f"/api/models/{model.hash}", body).status_code == 200
    model.refresh_from_db()
    assert model.name == evil and model.metadata == {"note": evil}
    assert list(model.tags.values_list("name", flat=True)) == ["x' OR '1'='1"]


def test_batch_with_many_unknown_hashes(api):
    body = {f"{i:064x}": {"rating": 1} for i in range(2000)}
    response = api.post_json("/api/images", body)
    assert response.status_code == 200
    assert len(response.json()["failed"]) == 2000
    response = api.delete_json("/api/images", {"hashes": list(body)})
    assert response.json()["count"] == 0 and len(response.json()["failed"]) == 2000


def test_wrong_methods_are_json_405(api):
    model = make_model()
    response = api.put_json(f"/api/models/{model.hash}", {"rating": 1})
    assert response.status_code == 405 and response.json()["errors"][0]["code"] == "method_not_allowed"
    response = api.post(f"/api/models/{model.hash}/content")
    assert response.status_code == 405


def test_decompression_bomb_upload_is_400(api):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    side = 30000  # 900 megapixels declared in a few hundred bytes
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\0" * (side + 1) * 4)) + chunk(b"IEND", b""))
    assert_error(api.post("/api/images/upload", png, content_type="image/png"), 400, "invalid_request")
    from images_app.models import Image

    assert not Image.objects.exists()
