"""GET /api is a JSON index: the API version and where the collections are (issue 8 item 19)."""

from tests.support.api import assert_error


def test_index_links_every_collection(api):
    response = api.get("/api")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["api_version"] == "1.0.0" and body["system_version"]
    links = body["links"]
    assert {key: links[key] for key in ("models", "images", "tasks", "tags")} == {
        "models": "/api/models", "images": "/api/images", "tasks": "/api/tasks", "tags": "/api/tags"}
    for key in ("models", "images", "tasks", "tags", "version", "config"):
        assert api.get(links[key]).status_code == 200, key


def test_index_needs_the_token_like_every_api_route(api, settings):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    assert_error(api.get("/api"), 401, "unauthorized")
    assert api.get("/api", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
