"""POST /api/models/{hash} and POST /api/models: D3 metadata updates."""

import pytest

from models_app.models import SDModel
from system_app.models import Tag
from tests.support.api import assert_error
from tests.support.factories import make_image, make_model

pytestmark = pytest.mark.django_db


def tag_names(model):
    return sorted(model.tags.values_list("name", flat=True))


def test_spec_example_updates_tags_and_metadata(api):
    model = make_model()
    body = {"tag_sharp": True, "rating": 4.5, "is_favorite": True, "custom_note": "best at 30 steps"}
    response = api.post_json(f"/api/models/{model.hash}", body)
    assert response.status_code == 200
    assert response.json() == {"success": True, "updated_fields": ["tag_sharp", "rating", "is_favorite", "custom_note"]}
    model.refresh_from_db()
    assert model.metadata == {"rating": 4.5, "is_favorite": True, "custom_note": "best at 30 steps"}
    assert tag_names(model) == ["sharp"]


def test_writable_attributes(api):
    model = make_model(description="old", base_model="SD1.5")
    cover = make_image()
    before = model.updated_at
    body = {"name": "new name", "description": None, "base_model": "SDXL", "source_url": "https://x.example/m",
            "cover_image": cover.hash}
    response = api.post_json(f"/api/models/{model.hash}", body)
    assert response.json()["updated_fields"] == list(body)
    model.refresh_from_db()
    assert (model.name, model.description, model.base_model, model.source_url) == ("new name", None, "SDXL", "https://x.example/m")
    assert model.cover_image_id == cover.hash
    assert model.metadata == {}
    assert model.updated_at > before
    api.post_json(f"/api/models/{model.hash}", {"cover_image": None})
    model.refresh_from_db()
    assert model.cover_image_id is None


def test_metadata_null_deletes_and_merge_keeps_others(api):
    model = make_model(metadata={"a": 1, "b": 2, "trigger_words": ["x"]})
    api.post_json(f"/api/models/{model.hash}", {"a": None, "c": {"nested": [1, 2]}, "missing": None})
    model.refresh_from_db()
    assert model.metadata == {"b": 2, "trigger_words": ["x"], "c": {"nested": [1, 2]}}


def test_tags_replace_add_remove_case_insensitive(api):
    model = make_model()
    Tag(name="Anime").save()
    api.post_json(f"/api/models/{model.hash}", {"tags": ["anime", "Forest", "FOREST"]})
    assert tag_names(model) == ["Anime", "Forest"]  # existing spelling reused, duplicates folded
    api.post_json(f"/api/models/{model.hash}", {"tag_forest": False, "tag_ÉTÉ": True, "tag_absent": False})
    assert tag_names(model) == ["Anime", "ÉTÉ"]
    api.post_json(f"/api/models/{model.hash}", {"tags": []})
    assert tag_names(model) == []
    assert Tag.objects.filter(folded="forest").count() == 1  # tags stay, only links go
    # body order: a later key works on the result of an earlier one
    api.post_json(f"/api/models/{model.hash}", {"tags": ["a", "b"], "tag_a": False, "tag_c": True})
    assert tag_names(model) == ["b", "c"]


@pytest.mark.parametrize("key,value", [
    ("name", ""), ("name", "   "), ("name", 3), ("name", None),
    ("description", 5), ("base_model", ["SD1.5"]), ("base_model", "x" * 101), ("source_url", True),
    ("cover_image", 12), ("cover_image", "0" * 64), ("cover_image", "../../etc/passwd"),
    ("tags", "anime"), ("tags", ["ok", ""]), ("tags", ["x" * 21]), ("tags", [1]), ("tags", None),
    ("tag_sharp", "yes"), ("tag_sharp", 1), ("tag_sharp", None), ("tag_" + "y" * 21, True), ("tag_", True),
    ("hash", "x"), ("size", 1), ("status", "ready"), ("model_type", "lora"), ("width", 5), ("height", 5),
    ("seed", 1), ("task_id", None), ("created_at", "2020-01-01"), ("updated_at", None), ("type", "model"),
    ("id", "x"), ("metadata", {"a": 1}), ("error_message", None),
    ("bad-key", 1), ("with space", 1), ("k" * 65, 1), ("", 1), ("ключ", 1),
])
def test_invalid_key_is_400_naming_it_and_changes_nothing(api, key, value):
    model = make_model(name="keep", metadata={"rating": 1})
    snapshot = SDModel.objects.filter(pk=model.hash).values().get()
    body = {"rating": 5, "tag_early": True, key: value}
    response = api.post_json(f"/api/models/{model.hash}", body)
    assert_error(response, 400, "invalid_request", pointer="/" + key.replace("~", "~0").replace("/", "~1"))
    assert SDModel.objects.filter(pk=model.hash).values().get() == snapshot
    assert tag_names(model) == []
    assert not Tag.objects.exists()


def test_metadata_key_of_64_chars_is_fine(api):
    model = make_model()
    assert api.post_json(f"/api/models/{model.hash}", {"k" * 64: 1, "A_9": 2}).status_code == 200


def test_unknown_and_malformed_hash_404(api):
    assert_error(api.post_json("/api/models/" + "a" * 64, {"rating": 1}), 404, "not_found")
    assert_error(api.post_json("/api/models/..%2F..%2Fetc", {"rating": 1}), 404, "not_found")
    assert_error(api.post_json("/api/models/1' OR '1'='1", {"rating": 1}), 404, "not_found")


@pytest.mark.parametrize("body", ["[1, 2]", "\"text\"", "{bad json", "null", "3"])
def test_body_must_be_json_object(api, body):
    model = make_model()
    assert_error(api.post_json(f"/api/models/{model.hash}", body), 400, "invalid_request")


def test_non_json_content_type_is_415(api):
    model = make_model()
    response = api.post(f"/api/models/{model.hash}", "rating=5", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_empty_object_is_a_no_op(api):
    model = make_model()
    assert api.post_json(f"/api/models/{model.hash}", {}).json() == {"success": True, "updated_fields": []}


def test_batch_update_with_unknown_hash(api):
    a, b = make_model(), make_model()
    unknown = "e" * 64
    body = {a.hash: {"tag_sharp": True, "rating": 4.5}, b.hash: {"is_favorite": True, "tag_anime": True},
            unknown: {"rating": 1}, "not-a-hash": {"rating": 2}}
    response = api.post_json("/api/models", body)
    assert response.status_code == 200
    assert response.json() == {
        "success": [a.hash, b.hash],
        "failed": [{"hash": unknown, "error": "Model not found"}, {"hash": "not-a-hash", "error": "Model not found"}],
    }
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.metadata == {"rating": 4.5} and tag_names(a) == ["sharp"]
    assert b.metadata == {"is_favorite": True} and tag_names(b) == ["anime"]


def test_batch_update_validates_whole_body_first(api):
    a, b = make_model(), make_model()
    body = {a.hash: {"rating": 5, "tag_new": True}, b.hash: {"is_favorite": True, "name": 7}}
    assert_error(api.post_json("/api/models", body), 400, "invalid_request", pointer=f"/{b.hash}/name")
    a.refresh_from_db()
    assert a.metadata == {} and tag_names(a) == []
    assert not Tag.objects.exists()


def test_batch_update_entry_must_be_object(api):
    a = make_model()
    assert_error(api.post_json("/api/models", {a.hash: [1]}), 400, "invalid_request", pointer=f"/{a.hash}")
    assert_error(api.post_json("/api/models", [a.hash]), 400, "invalid_request")


def test_batch_update_sets_updated_at(api):
    a = make_model()
    before = a.updated_at
    api.post_json("/api/models", {a.hash: {"tag_x": True}})
    a.refresh_from_db()
    assert a.updated_at > before
