"""Tag conditions have two SQL forms (resource.Carrying): a list built once (IN) and a probe per row (EXISTS).
The paginator picks one per statement: common tags are probed in pages sorted by an index and in capped counts,
listed in exact counts and in pages sorted otherwise; `all` lists its rarest tag's links that also carry the others;
deep pages read their rows by id. Each form, asked for directly, and the paginator's choices must give the rows and
totals computed here from the library itself."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from core.jsonapi.filtering import PROBE_FROM_LINKS, PROBE_FROM_SHARE
from core.jsonapi.filters import Listing
from core.jsonapi.pagination import DEFERRED_OFFSET
from core.jsonapi.query import parse_query
from core.jsonapi.resource import LIST, PAGE, PROBE
from images_app.api.resources import ImageResource
from images_app.models import Image, ImageTag
from system_app.models import Tag
from tests.support.query_seed import at, ids, sha

COUNT = 6000  # past DEFERRED_OFFSET and PROBE_FROM_LINKS


def carries(n):
    return {"common": n % 10 != 0, "skip": n % 9 != 0, "rare": n % 7 == 0}


def seed():
    start = at("2025-01-01T00:00:00")
    Image.objects.bulk_create(
        Image(hash=sha(20000 + n), width=768 if n % 2 else 512, height=64, size=1000 + (n * 7919) % 5000,
              created_at=start + timedelta(minutes=n // 2))
        for n in range(COUNT))
    tags = {tag.name: tag for tag in Tag.objects.named(["common", "skip", "rare"])}
    ImageTag.objects.bulk_create(ImageTag(image_id=sha(20000 + n), tag=tags[name])
                                 for n in range(COUNT) for name, on in carries(n).items() if on)
    for name in ("common", "skip"):  # probed; rare is listed (all of common and rare too)
        assert ImageTag.objects.filter(tag_id=name).count() >= max(PROBE_FROM_SHARE * COUNT, PROBE_FROM_LINKS)
    assert ImageTag.objects.filter(tag_id="rare").count() < PROBE_FROM_LINKS


def expect(api, url, matching, key, offset, limit=50):
    rows = sorted((n for n in range(COUNT) if matching(n)), key=key)
    response = api.get(url)
    assert ids(response) == [sha(20000 + n) for n in rows[offset:offset + limit]], url
    assert response.json()["meta"]["total"] == len(rows), url


def test_common_rare_and_deep_pages_agree(api):
    seed()
    newest = lambda n: (-(n // 2), sha(20000 + n))  # noqa: E731
    any_none = lambda n: carries(n)["common"] and not carries(n)["skip"] and n % 2 == 1  # noqa: E731
    base = "/api/images?filter[tags][any]=COMMON&filter[tags][none]=skip&filter[width][gte]=768"
    expect(api, f"{base}&page[number]=2&page[size]=50", any_none, newest, 50)
    any_only = lambda n: carries(n)["common"]  # noqa: E731
    expect(api, f"/api/images?filter[tags][any]=common&page[offset]={DEFERRED_OFFSET + 3}&page[limit]=50",
           any_only, newest, DEFERRED_OFFSET + 3)
    not_skip = lambda n: not carries(n)["skip"]  # noqa: E731
    expect(api, "/api/images?filter[tags][none]=skip&sort=-tag_count", not_skip,
           lambda n: (-sum(carries(n).values()), sha(20000 + n)), 0)
    both = lambda n: carries(n)["common"] and carries(n)["rare"]  # noqa: E731
    expect(api, "/api/images?filter[tags][all]=common,rare&sort=-size", both,
           lambda n: (-(1000 + (n * 7919) % 5000), sha(20000 + n)), 0)
    expect(api, "/api/images?filter[tags][all]=common,rare&page[number]=3", both, newest, 100)
    common_skip = lambda n: carries(n)["common"] and carries(n)["skip"]  # noqa: E731  (probed: both common)
    expect(api, "/api/images?filter[tags][all]=skip,common&page[number]=7", common_skip, newest, 300)
    expect(api, "/api/images?filter[tags][all]=skip,common&sort=-size", common_skip,
           lambda n: (-(1000 + (n * 7919) % 5000), sha(20000 + n)), 0)
    expect(api, "/api/images?filter[tags][all]=rare,common&filter[or][tags][none]=skip"
                "&filter[or][width][eq]=512&page[offset]=5",
           lambda n: both(n) and (not carries(n)["skip"] or n % 2 == 0), newest, 5)
    expect(api, "/api/images?filter[not][tags][any]=common&filter[width][eq]=768",
           lambda n: not carries(n)["common"] and n % 2 == 1, newest, 0)


newest = lambda n: (-(n // 2), sha(20000 + n))  # noqa: E731  (the default sort: -created_at, then id)
largest = lambda n: (-(1000 + (n * 7919) % 5000), sha(20000 + n))  # noqa: E731  (sort=-size)
FILTERS = {  # filter parameters -> which image n matches
    "filter[tags][any]=common": lambda n: carries(n)["common"],
    "filter[tags][any]=rare,skip": lambda n: carries(n)["rare"] or carries(n)["skip"],
    "filter[tags][none]=skip": lambda n: not carries(n)["skip"],
    "filter[tags][none]=rare&filter[width][eq]=512": lambda n: not carries(n)["rare"] and n % 2 == 0,
    "filter[tags][all]=common,rare": lambda n: carries(n)["common"] and carries(n)["rare"],
    "filter[tags][all]=skip,common": lambda n: carries(n)["common"] and carries(n)["skip"],
    "filter[not][tags][any]=common&filter[width][eq]=768": lambda n: not carries(n)["common"] and n % 2 == 1,
    "filter[not][tags][none]=skip": lambda n: carries(n)["skip"],
    "filter[tags][all]=rare,common&filter[or][tags][none]=skip&filter[or][width][eq]=512":
        lambda n: carries(n)["common"] and carries(n)["rare"] and (not carries(n)["skip"] or n % 2 == 0),
    "filter[or][tags][any]=rare&filter[or][tags][none]=common": lambda n: carries(n)["rare"] or not carries(n)["common"],
}


def listing(parameters):
    return Listing.of(ImageResource.queryset(), parse_query(ImageResource, QueryDict(parameters)))


def form_of(sql):
    """Which form the tag conditions of one statement took: probed (EXISTS correlated with the row), listed
    (the row's key IN a subquery of link rows), or both."""
    probed = re.search(r'"entity_seq" = \((?:"images"|[UVW]\d+)\."seq"\)', sql) is not None
    listed = re.search(r'(?:"images"|[UVW]\d+)\."seq" IN \(SELECT', sql) is not None
    return {(True, False): PROBE, (False, True): LIST, (True, True): "both"}.get((probed, listed))


@pytest.mark.parametrize("form", [LIST, PROBE, PAGE])
def test_each_form_alone_gives_the_rows_and_totals(db, form):
    seed()
    for parameters, matching in FILTERS.items():
        for sort, key in (("", newest), ("&sort=-size", largest)):
            rows = listing(parameters + sort).rows(form)
            expected = [sha(20000 + n) for n in sorted((n for n in range(COUNT) if matching(n)), key=key)]
            if form != PAGE:
                assert form_of(str(rows.query)) == form, parameters
            assert [row.pk for row in rows[30:80]] == expected[30:80], (form, parameters, sort)
            assert rows.count() == len(expected), (form, parameters)
            assert rows.order_by().values("pk")[:100].count() == min(100, len(expected)), (form, parameters)
            deep = rows.filter(pk__in=rows.values("pk")[DEFERRED_OFFSET:DEFERRED_OFFSET + 20])
            assert [row.pk for row in deep] == expected[DEFERRED_OFFSET:DEFERRED_OFFSET + 20], (form, parameters)


def statements(api, url):
    """The form of the tag condition in each statement of a list request that reads images, in order; for a deep
    page's statement (page rows, page ids) the form of each part."""
    with CaptureQueriesContext(connection) as queries:
        assert api.get(url).status_code == 200
    parts = [query["sql"].split('"images"."hash" IN (SELECT', 1)
             for query in queries.captured_queries if 'FROM "images"' in query["sql"]]
    return [tuple(map(form_of, part)) if len(part) > 1 else form_of(part[0]) for part in parts]


def test_the_paginator_picks_the_form_of_each_statement(api):
    """docs/query-engine.md, "Tag condition forms": probes where the page's rows come in an index's order (or in none)
    and the tag is common; lists in exact counts, in pages sorted otherwise and for rare tags."""
    seed()
    common = "/api/images?filter[tags][any]=common"
    assert statements(api, common) == [PROBE, LIST]  # the page (default sort), the exact total
    assert statements(api, f"{common}&sort=-tag_count") == [PROBE, LIST]  # idx_images_tag_count
    assert statements(api, f"{common}&sort=created_at") == [PROBE, LIST]  # read backwards in idx_images_created_hash
    assert statements(api, f"{common}&sort=-size") == [LIST, LIST]  # no index leads with size
    assert statements(api, f"{common}&sort=-metadata.rating") == [LIST, LIST]
    assert statements(api, f"{common}&page[count]=estimate&page[size]=10") == [PROBE, PROBE]  # the capped count
    assert statements(api, f"{common}&sort=-size&page[count]=estimate&page[size]=10") == [LIST, PROBE]
    # deep pages: the page's ids in the sort's form, then the page's rows probed, and the total
    assert statements(api, f"{common}&page[offset]={DEFERRED_OFFSET + 3}") == [(PROBE, PROBE), LIST]
    assert statements(api, f"{common}&sort=-size&page[offset]={DEFERRED_OFFSET + 3}") == [(PROBE, LIST), LIST]
    assert statements(api, f"{common}&page[offset]={DEFERRED_OFFSET + 3}&page[count]=estimate") == [
        (PROBE, PROBE), PROBE]
    assert statements(api, "/api/images?filter[tags][any]=rare") == [LIST, LIST]  # too few links to probe
    assert statements(api, "/api/images?filter[tags][all]=skip,common&page[number]=7") == [PROBE, LIST]
    assert statements(api, "/api/images?filter[tags][all]=common,rare&page[number]=3") == [LIST, LIST]
