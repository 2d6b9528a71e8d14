"""JSON:API's own write rules (issue 22 items 6-8, 10): PATCH with a resource document on models, images and tasks,
a resource document refused by the D3 POST form, JSON:API's media types (406, 415, vnd.api+json answers), the
order of `tags` and `tag_<name>` keys, the trailing-slash pages."""

import json

import pytest

from images_app.models import Image
from models_app.models import SDModel
from tests.support.api import assert_error
from tests.support.factories import make_image, make_model, make_task

pytestmark = pytest.mark.django_db

JSONAPI = "application/vnd.api+json"


def patch(api, path, document, content_type=JSONAPI, **headers):
    return api.generic("PATCH", path, json.dumps(document), content_type=content_type, **headers)


def tag_names(entity):
    return sorted(entity.tags.values_list("name", flat=True))


# --- item 6: a resource document ------------------------------------------------------------------

@pytest.mark.parametrize("collection", ["models", "images"])
def test_post_of_a_resource_document_is_refused_not_stored_as_metadata(api, collection):
    entity = make_model() if collection == "models" else make_image()
    document = {"data": {"type": collection[:-1], "id": entity.hash, "attributes": {"metadata": {"rating": 5}}}}
    assert_error(api.post_json(f"/api/{collection}/{entity.hash}", document), 400, "invalid_request", pointer="/data")
    entity.refresh_from_db()
    assert "data" not in (entity.metadata or {})
    assert_error(api.post_json(f"/api/{collection}", document), 400, "invalid_request", pointer="/data")
    assert_error(api.post_json(f"/api/{collection}", {entity.hash: {"data": 1}}), 400, "invalid_request",
                 pointer=f"/{entity.hash}/data")


def test_patch_image_maps_attributes_and_tags_onto_d3(api):
    image = make_image()
    api.post_json(f"/api/images/{image.hash}", {"keep": 1, "gone": 2, "tags": ["old"]})
    document = {"data": {
        "type": "image", "id": image.hash,
        "attributes": {"metadata": {"rating": 5, "gone": None}, "is_favorite": True},
        "relationships": {"tags": {"data": [{"type": "tag", "id": "forest"}, {"type": "tag", "id": "Wallpaper"}]}},
    }}
    response = patch(api, f"/api/images/{image.hash}", document)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"  # the test client sends no Accept
    body = response.json()
    assert body["data"]["type"] == "image" and body["data"]["id"] == image.hash
    assert body["data"]["attributes"]["metadata"] == {"keep": 1, "rating": 5, "is_favorite": True}
    assert body["data"]["relationships"]["tags"]["data"] == [{"type": "tag", "id": "forest"},
                                                             {"type": "tag", "id": "Wallpaper"}]
    assert body["meta"] == {"updated_fields": ["rating", "gone", "is_favorite", "tags"]}
    image.refresh_from_db()
    assert image.metadata == {"keep": 1, "rating": 5, "is_favorite": True}
    assert tag_names(image) == ["Wallpaper", "forest"]


def test_patch_model_attributes_and_cover_image(api):
    model, cover = make_model(), make_image()
    document = {"data": {
        "type": "model", "id": model.hash,
        "attributes": {"name": "renamed", "description": "## notes"},
        "relationships": {"cover_image": {"data": {"type": "image", "id": cover.hash}}},
    }}
    response = patch(api, f"/api/models/{model.hash}", document, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["relationships"]["cover_image"]["data"] == {"type": "image", "id": cover.hash}
    model.refresh_from_db()
    assert (model.name, model.description, model.cover_image_id) == ("renamed", "## notes", cover.hash)
    document["data"]["relationships"]["cover_image"]["data"] = None
    assert patch(api, f"/api/models/{model.hash}", document).status_code == 200
    assert SDModel.objects.get(pk=model.hash).cover_image_id is None


@pytest.mark.parametrize("data, status, code, pointer", [
    ({"type": "model", "id": "H", "attributes": {}}, 409, "conflict", "/data/type"),
    ({"type": "image", "id": "f" * 64, "attributes": {}}, 409, "conflict", "/data/id"),
    ({"id": "H", "attributes": {}}, 400, "invalid_request", "/data/type"),
    ({"type": "image", "attributes": {}}, 400, "invalid_request", "/data/id"),
    ({"type": "image", "id": "H", "attributes": {"width": 3}}, 400, "invalid_request", "/data/attributes/width"),
    ({"type": "image", "id": "H", "attributes": {"metadata": {"x": "a\u0000"}}}, 400, "invalid_request",
     "/data/attributes/metadata/x"),
    ({"type": "image", "id": "H", "attributes": {"metadata": {"tags": ["a"]}}}, 400, "invalid_request",
     "/data/attributes/metadata/tags"),
    ({"type": "image", "id": "H", "attributes": {"tags": ["a"]}}, 400, "invalid_request", "/data/attributes/tags"),
    ({"type": "image", "id": "H", "attributes": {"metadata": []}}, 400, "invalid_request", "/data/attributes/metadata"),
    ({"type": "image", "id": "H", "relationships": {"tags": {"data": [{"type": "tag", "id": "x" * 21}]}}}, 400,
     "invalid_request", "/data/relationships/tags/data"),
    ({"type": "image", "id": "H", "relationships": {"tags": {"data": [{"type": "model", "id": "x"}]}}}, 409,
     "conflict", "/data/relationships/tags/data/0/type"),
    ({"type": "image", "id": "H", "relationships": {"tags": {"data": {"type": "tag", "id": "x"}}}}, 400,
     "invalid_request", "/data/relationships/tags/data"),
    ({"type": "image", "id": "H", "relationships": {"task": {"data": None}}}, 400, "invalid_request",
     "/data/relationships/task"),
    ({"type": "image", "id": "H", "color": "red"}, 400, "invalid_request", "/data/color"),
    ([], 400, "invalid_request", "/data"),
])
def test_patch_refusals_change_nothing(api, data, status, code, pointer):
    image = make_image()
    data = json.loads(json.dumps(data).replace('"H"', json.dumps(image.hash)))
    assert_error(patch(api, f"/api/images/{image.hash}", {"data": data}), status, code, pointer=pointer)
    image.refresh_from_db()
    assert image.metadata == {} and tag_names(image) == []


def test_patch_needs_a_document(api):
    image = make_image()
    assert_error(patch(api, f"/api/images/{image.hash}", {"rating": 5}), 400, "invalid_request", pointer="/data")
    missing = "e" * 64
    document = {"data": {"type": "image", "id": missing, "attributes": {"rating": 1}}}
    assert_error(patch(api, f"/api/images/{missing}", document), 404, "not_found")


def test_patch_task_changes_its_tags_only(api):
    task = make_task(make_model())
    document = {"data": {"type": "task", "id": task.id,
                         "relationships": {"tags": {"data": [{"type": "tag", "id": "keep"}]}}}}
    response = patch(api, f"/api/tasks/{task.id}", document)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["relationships"]["tags"]["data"] == [{"type": "tag", "id": "keep"}]
    assert response.json()["meta"] == {"updated_fields": ["tags"]}
    assert tag_names(task) == ["keep"]
    task.refresh_from_db()
    assert task.tag_count == 1  # the link triggers ran, as for a tagged submission
    for attributes, pointer in [({"prompt": "a dog"}, "/data/attributes/prompt"),
                                ({"rating": 5}, "/data/attributes/rating")]:
        document["data"]["attributes"] = attributes
        assert_error(patch(api, f"/api/tasks/{task.id}", {**document}), 400, "invalid_request", pointer=pointer)
    document["data"].pop("attributes")
    document["data"]["relationships"] = {"checkpoint": {"data": None}}
    assert_error(patch(api, f"/api/tasks/{task.id}", document), 400, "invalid_request",
                 pointer="/data/relationships/checkpoint")
    task.refresh_from_db()
    assert task.prompt == "a cat" and task.checkpoint_id and tag_names(task) == ["keep"]
    other = "0" * 8 + "-0000-4000-8000-" + "0" * 12
    document["data"]["id"] = other
    assert_error(patch(api, f"/api/tasks/{task.id}", document), 409, "conflict", pointer="/data/id")
    assert_error(patch(api, f"/api/tasks/{other}", {"data": {"type": "task", "id": other}}), 404, "not_found")


# --- item 7: media types ----------------------------------------------------------------------------

def test_jsonapi_accept_gets_the_jsonapi_media_type(api):
    image = make_image()
    response = api.get(f"/api/images/{image.hash}", HTTP_ACCEPT=JSONAPI)
    assert response.status_code == 200 and response["Content-Type"] == JSONAPI
    assert "Accept" in response["Vary"]
    assert api.get("/api/images", HTTP_ACCEPT=f"{JSONAPI}, application/json;q=0.5")["Content-Type"] == JSONAPI
    # the profile parameter is allowed and ignored (JSON:API 1.1)
    assert api.get("/api/images", HTTP_ACCEPT=f'{JSONAPI}; profile="https://example.com/p"')["Content-Type"] == JSONAPI
    # errors too
    missing = api.get("/api/images/" + "e" * 64, HTTP_ACCEPT=JSONAPI)
    assert missing.status_code == 404 and missing["Content-Type"] == JSONAPI
    for accept in ("application/json", "*/*", "", f"application/json, {JSONAPI};q=0.5"):
        assert api.get("/api/images", HTTP_ACCEPT=accept)["Content-Type"] == "application/json", accept


@pytest.mark.parametrize("accept", [
    f"{JSONAPI}; charset=utf-8",
    f'{JSONAPI}; ext="https://jsonapi.org/ext/atomic"',
    f"{JSONAPI}; charset=utf-8, application/json",
    f"{JSONAPI}; a=1, {JSONAPI}; b=2",
])
def test_accept_with_only_parameterised_jsonapi_is_406(api, accept):
    assert_error(api.get("/api/images", HTTP_ACCEPT=accept), 406, "not_acceptable")


def test_accept_with_one_plain_jsonapi_instance_is_served(api):
    response = api.get("/api/images", HTTP_ACCEPT=f"{JSONAPI}; charset=utf-8, {JSONAPI}")
    assert response.status_code == 200 and response["Content-Type"] == JSONAPI


@pytest.mark.parametrize("content_type", [f"{JSONAPI}; charset=utf-8", f'{JSONAPI}; ext="https://jsonapi.org/ext/atomic"'])
def test_jsonapi_body_with_parameters_is_415(api, content_type):
    image = make_image()
    response = api.post_json(f"/api/images/{image.hash}", {"rating": 5}, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert Image.objects.get(pk=image.hash).metadata == {}


def test_plain_jsonapi_bodies_are_accepted_on_writes(api):
    image = make_image()
    response = api.post_json(f"/api/images/{image.hash}", {"rating": 5}, content_type=JSONAPI)
    assert response.status_code == 200, response.content
    assert Image.objects.get(pk=image.hash).metadata == {"rating": 5}


# --- item 8: tags before flags -------------------------------------------------------------------------

@pytest.mark.parametrize("collection", ["models", "images"])
@pytest.mark.parametrize("body", [
    {"tags": ["forest", "old"], "tag_sharp": True, "tag_old": False},
    {"tag_sharp": True, "tag_old": False, "tags": ["forest", "old"]},
    {"tag_sharp": True, "tags": ["forest", "old"], "tag_old": False},
])
def test_tags_then_flags_whatever_the_key_order(api, collection, body):
    entity = make_model() if collection == "models" else make_image()
    api.post_json(f"/api/{collection}/{entity.hash}", {"tags": ["stale"]})
    assert api.post_json(f"/api/{collection}/{entity.hash}", body).status_code == 200
    assert tag_names(entity) == ["forest", "sharp"]
    other = make_model() if collection == "models" else make_image()
    assert api.post_json(f"/api/{collection}", {other.hash: body}).status_code == 200
    assert tag_names(other) == ["forest", "sharp"]


# --- item 10: trailing slashes --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api", "/api/docs", "/api/schema"])
def test_trailing_slash_pages_reach_the_canonical_ones(api, path):
    response = api.get(path + "/")
    assert response.status_code == 301 and response["Location"] == path
    assert api.get(path + "/", follow=True).status_code == 200
