"""OPTIONS on every route of the URLconf (#23 item 6): never a 500."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

SAMPLE = {"hash": "a" * 64, "id": "00000000-0000-4000-8000-000000000000", "pk": "1", "name": "x", "path": "x"}


def _routes(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def _example(route: str) -> str:
    """A concrete path for a route pattern (converters and regex groups filled with sample values)."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE.get(m.group(1), "1"), route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE.get(m.group(1), "1"), path)
    return "/" + path.lstrip("^").rstrip("$").replace("\\", "")


ROUTES = sorted({_example(route) for route in _routes(get_resolver().url_patterns)
                 if route.startswith(("api", "sdapi", "controlnet"))})


@pytest.mark.parametrize("path", ROUTES)
def test_options_is_never_a_500(api, path):
    response = api.options(path)
    assert response.status_code < 500, (path, response.status_code, response.content[:300])
    if response.status_code == 200:
        assert response["Allow"], path


def test_options_on_a_viewset_route_describes_it_without_a_serializer(api):
    """These seven answered 500 (DRF's metadata asked the views for a `serializer_class` they do not have)."""
    for path in ("/api/tasks", "/api/tasks/promote", "/api/models", "/api/models/" + "a" * 64, "/api/images",
                 "/api/images/upload", "/api/images/" + "a" * 64):
        response = api.options(path)
        assert response.status_code == 200, (path, response.content)
        assert "OPTIONS" in response["Allow"]
        assert set(response.json()) == {"name", "description", "renders", "parses"}, path
    assert set(api.options("/api/tasks")["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST", "DELETE",
                                                                                     "OPTIONS"}
