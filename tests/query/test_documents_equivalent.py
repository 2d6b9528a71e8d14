"""The documents stay what they were (issue #27): the orjson renderer writes DRF's JSONRenderer's bytes, and
the answers of the query engine are byte for byte what DRF's renderer makes of the same data."""

import datetime
import decimal
import json
import re
import uuid
from pathlib import Path

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings

from core.renderers import FastJSONRenderer
from tests.support.query_seed import seed, sha

VALUES = [
    0.1, 1e22, -0.0, 1.5e300, 123456789.123, 2 ** 63 - 1, -2 ** 63, 2 ** 64, 10 ** 30, decimal.Decimal("1.10"),
    datetime.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc),
    datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    datetime.datetime(2025, 1, 2, 3, 4, 5), datetime.date(2025, 1, 2), datetime.time(1, 2, 3, 456789),
    datetime.timedelta(seconds=3.5), uuid.UUID(int=5), gettext_lazy("Hello"), "é—日本🎨 \u2028x\u2029",
    "\x00\x1f\"\\", True, None, (1, 2), {"a": {"b": [], "c": {}}}, [], "",
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_renderer_writes_drfs_bytes(value):
    document = {"data": {"type": "x", "attributes": {"value": value, "list": [value, {"k": value}]}}}
    assert FastJSONRenderer().render(document) == JSONRenderer().render(document)


def test_renderer_floats_keep_their_value():
    """1e-07 (Python) and 1e-7 (orjson) are the same number; only the spelling of some exponents differs."""
    floats = [1e-7, 3.0e-5, 1 / 3, 2.5e-10, 6.02214076e23]
    assert json.loads(FastJSONRenderer().render({"v": floats})) == json.loads(JSONRenderer().render({"v": floats}))


def test_renderer_indents_like_drf():
    document = {"a": [1, {"b": "é"}]}
    context = {"indent": 2}
    assert FastJSONRenderer().render(document, None, context) == JSONRenderer().render(document, None, context)


def test_drf_views_use_the_fast_renderer(api):
    assert api_settings.DEFAULT_RENDERER_CLASSES == [FastJSONRenderer]


@pytest.mark.parametrize("url", [
    "/api/images?include=tags,task&page[size]=50",
    "/api/images?sort=-tag_count&fields[image]=width,tags",
    "/api/models?include=tags,cover_image&filter[size][gte]=1",
    "/api/tags?sort=-image_count",
    "/api/tasks?include=tags,images",
    f"/api/models/{sha(1)}?include=tags",
    f"/api/images/{sha(0xA1)}?include=task",
    "/api/version",
])
def test_api_answers_are_drfs_bytes(api, lib, url):
    response = api.get(url)
    assert response.status_code == 200, response.content
    assert response.content == JSONRenderer().render(response.data)
    assert response.data  # not an empty page: the documents hold what the comparison is about


EXPECTED = Path(__file__).with_name("expected_documents.json")  # the documents as the builder made them before #27
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_documents_are_what_they_were(api):
    """Every document of expected_documents.json, equal as JSON (key order aside), timestamps the seed takes from
    the clock written as `<now>`."""
    started = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    seed()

    def normal(value):
        if isinstance(value, dict):
            return {key: normal(item) for key, item in value.items()}
        if isinstance(value, list):
            return [normal(item) for item in value]
        if isinstance(value, str) and TIMESTAMP.fullmatch(value) and value >= started:
            return "<now>"
        return value

    expected = json.loads(EXPECTED.read_text())
    for url, document in expected.items():
        response = api.get(url)
        assert response.status_code == 200, response.content
        assert normal(response.json()) == document, url
