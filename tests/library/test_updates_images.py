"""POST /api/images/{hash} and POST /api/images: D3 updates of images (tags and metadata only)."""

import pytest

from images_app.models import Image
from system_app.models import Tag
from tests.support.api import assert_error
from tests.support.factories import make_image

pytestmark = pytest.mark.django_db


def tag_names(image):
    return sorted(image.tags.values_list("name", flat=True))


def test_spec_example(api):
    image = make_image()
    body = {"rating": 5, "tag_wallpaper": True, "is_favorite": True, "custom_note": "print this one"}
    response = api.post_json(f"/api/images/{image.hash}", body)
    assert response.status_code == 200
    assert response.json() == {"success": True, "updated_fields": ["rating", "tag_wallpaper", "is_favorite", "custom_note"]}
    image.refresh_from_db()
    assert image.metadata == {"rating": 5, "is_favorite": True, "custom_note": "print this one"}
    assert tag_names(image) == ["wallpaper"]


def test_model_attribute_names_are_metadata_on_images(api):
    image = make_image()
    api.post_json(f"/api/images/{image.hash}", {"name": "x", "description": None, "cover_image": "y"})
    image.refresh_from_db()
    assert image.metadata == {"name": "x", "cover_image": "y"}  # null deleted a key that was not there


def test_tags_shared_with_models_case_insensitively(api):
    image = make_image()
    Tag(name="Forest").save()
    api.post_json(f"/api/images/{image.hash}", {"tags": ["forest", "favorite"]})
    assert tag_names(image) == ["Forest", "favorite"]
    assert Tag.objects.count() == 2


@pytest.mark.parametrize("key,value", [
    ("tags", "forest"), ("tags", ["ok", "x" * 21]), ("tag_x", "true"), ("tag_" + "é" * 21, True),
    ("width", 10), ("height", 10), ("seed", 3), ("task_id", None), ("size", 1), ("hash", "h"),
    ("created_at", None), ("metadata", {}), ("bad.key", 1), ("a/b", 1),
])
def test_invalid_keys(api, key, value):
    image = make_image()
    response = api.post_json(f"/api/images/{image.hash}", {"rating": 3, key: value})
    assert_error(response, 400, "invalid_request", pointer="/" + key.replace("~", "~0").replace("/", "~1"))
    image.refresh_from_db()
    assert image.metadata == {}


def test_unknown_image_404(api):
    assert_error(api.post_json("/api/images/" + "b" * 64, {"rating": 1}), 404, "not_found")


def test_batch(api):
    a, b = make_image(), make_image()
    missing = "f" * 64
    body = {a.hash: {"rating": 5, "is_favorite": True}, b.hash: {"tag_wallpaper": True, "is_public": True},
            missing: {"tags": ["forest", "favorite"]}}
    response = api.post_json("/api/images", body)
    assert response.json() == {"success": [a.hash, b.hash], "failed": [{"hash": missing, "error": "Image not found"}]}
    assert Image.objects.get(pk=a.hash).metadata == {"rating": 5, "is_favorite": True}
    assert tag_names(b) == ["wallpaper"]


def test_batch_type_error_applies_nothing(api):
    a, b = make_image(), make_image()
    body = {a.hash: {"rating": 5}, b.hash: {"tags": "nope"}}
    assert_error(api.post_json("/api/images", body), 400, "invalid_request", pointer=f"/{b.hash}/tags")
    assert Image.objects.get(pk=a.hash).metadata == {}
