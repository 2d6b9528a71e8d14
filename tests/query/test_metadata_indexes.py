"""Metadata keys listed in SDHOST_METADATA_INDEXES (default `rating`) have expression indexes on both databases
(core/jsonapi/metadata_indexes.py): the filter and the descending sort are answered from them, and the indexed sort
key orders values of every JSON type as SQLite's JSON_EXTRACT does."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from images_app.models import Image
from tests.support.query_seed import ids, sha

VALUES = {  # ascending: numbers (booleans as 1 and 0), then text; null and missing last in both directions
    1: 3, 2: 2.5, 3: True, 4: False, 5: "b", 6: "a", 9: None, 10: "<missing>",
}


@pytest.fixture
def rated(api):
    Image.objects.bulk_create(
        Image(hash=sha(0xC00 + n), width=8, height=8, size=10,
              metadata={} if value == "<missing>" else {"rating": value})
        for n, value in VALUES.items())
    # an array with quotes and backslashes: text, so among the strings (where depends on the collation)
    Image.objects.create(hash=sha(0xC07), width=8, height=8, size=10, metadata={"rating": ['x"y\\', {"k": 1}]})


def page_query_plan(api, url):
    """The plan of the engine's page query (the statement with LIMIT) for `url`."""
    with CaptureQueriesContext(connection) as queries:
        assert api.get(url).status_code == 200
    sql = next(query["sql"] for query in queries.captured_queries if "LIMIT" in query["sql"])
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return " ".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table of ten rows: show which index could serve
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}")
        return " ".join(row[0] for row in cursor.fetchall())


def test_sort_key_orders_every_json_type(api, rated):
    order = ids(api.get("/api/images?sort=-metadata.rating&page[size]=20"))
    array = sha(0xC07)
    assert [i for i in order if i != array] == [sha(0xC00 + n) for n in (5, 6, 1, 2, 3, 4, 9, 10)]
    assert order.index(array) < order.index(sha(0xC01))  # text: before the numbers
    ascending = ids(api.get("/api/images?sort=metadata.rating&page[size]=20"))
    assert [i for i in ascending if i != array] == [sha(0xC00 + n) for n in (4, 3, 2, 1, 6, 5, 9, 10)]
    assert ids(api.get("/api/images?filter[metadata.rating][gte]=2.5&sort=-metadata.rating")) == [sha(0xC01), sha(0xC02)]


@pytest.mark.django_db(transaction=True)  # the plans need the indexes `migrate` made (post_migrate), not a flush
def test_rating_filter_and_sort_use_the_expression_indexes(api, rated):
    assert "idx_meta_images_rating_sort" in page_query_plan(api, "/api/images?sort=-metadata.rating")
    assert "idx_meta_images_rating_" in page_query_plan(api, "/api/images?filter[metadata.rating][gte]=4&sort=size")
