"""`page[count]`: exact totals by default, an opt-in capped count (`estimate`) for broad filters over large
libraries (docs/query-engine.md "Semantics worth knowing", issue 12)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from images_app.models import Image, ImageTag
from system_app.models import Tag
from tests.support.api import assert_error
from tests.support.query_seed import at, sha

COMMON = "/api/images?filter[tags][any]=common"  # 45 of the 60 images


@pytest.fixture
def tagged_images(db):
    """60 images a minute apart; the first 45 carry the tag `common`."""
    start = at("2025-01-01T00:00:00")
    images = Image.objects.bulk_create(
        Image(hash=sha(2000 + n), width=64, height=64, size=100 + n, created_at=start + timedelta(minutes=n))
        for n in range(60)
    )
    common = Tag.objects.create(name="common")
    ImageTag.objects.bulk_create(ImageTag(image=image, tag=common) for image in images[:45])
    return images


@pytest.fixture
def cap(settings):
    def set_cap(rows):
        settings.SDHOST = {**settings.SDHOST, "ESTIMATE_COUNT_CAP": rows}
    return set_cap


def test_exact_is_the_default_and_unchanged(api, tagged_images):
    body = api.get(f"{COMMON}&page[size]=10").json()
    assert body["meta"] == {"total": 45, "page": {"number": 1, "size": 10, "total": 5}}
    assert body["links"]["last"].endswith("page%5Bnumber%5D=5&page%5Bsize%5D=10")


def test_asking_for_exact_says_so(api, tagged_images, cap):
    cap(1)  # exact ignores the cap
    body = api.get(f"{COMMON}&page[size]=10&page[count]=exact").json()
    assert body["meta"] == {"total": 45, "total_is": "exact", "page": {"number": 1, "size": 10, "total": 5}}
    assert body["links"]["last"].endswith("page%5Bnumber%5D=5&page%5Bsize%5D=10&page%5Bcount%5D=exact")


def test_estimate_below_the_cap_is_exact(api, tagged_images):
    body = api.get(f"{COMMON}&page[offset]=10&page[limit]=10&page[count]=estimate").json()
    assert len(body["data"]) == 10
    assert body["meta"] == {"total": 45, "total_is": "exact", "page": {"offset": 10, "limit": 10}}
    assert body["links"]["last"] == "/api/images?filter%5Btags%5D%5Bany%5D=common&" \
                                    "page%5Boffset%5D=40&page%5Blimit%5D=10&page%5Bcount%5D=estimate"


def test_estimate_above_the_cap_is_a_lower_bound(api, tagged_images, cap):
    cap(10)
    body = api.get(f"{COMMON}&page[offset]=5&page[limit]=10&page[count]=estimate&sort=created_at").json()
    assert [o["id"] for o in body["data"]] == [sha(2000 + n) for n in range(5, 15)]
    assert body["meta"] == {"total": 25, "total_is": "at_least", "page": {"offset": 5, "limit": 10}}
    assert body["meta"]["total"] >= 5 + len(body["data"])
    links = body["links"]
    assert "last" not in links  # unknown: a lower bound cannot name the last page
    assert links["next"] == ("/api/images?filter%5Btags%5D%5Bany%5D=common&sort=created_at&"
                             "page%5Boffset%5D=15&page%5Blimit%5D=10&page%5Bcount%5D=estimate")
    assert links["prev"].endswith("page%5Boffset%5D=0&page%5Blimit%5D=10&page%5Bcount%5D=estimate")

    # number style: the page count is the lower bound's
    body = api.get(f"{COMMON}&page[number]=2&page[size]=10&page[count]=estimate").json()
    assert body["meta"] == {"total": 30, "total_is": "at_least", "page": {"number": 2, "size": 10, "total": 3}}


def test_estimate_near_the_end_is_exact(api, tagged_images, cap):
    cap(10)  # the cap reaches past the last match
    body = api.get(f"{COMMON}&page[offset]=30&page[limit]=10&page[count]=estimate").json()
    assert body["meta"] == {"total": 45, "total_is": "exact", "page": {"offset": 30, "limit": 10}}
    assert "last" in body["links"]


def test_estimate_counts_through_a_limited_subquery(api, tagged_images, cap):
    cap(10)
    with CaptureQueriesContext(connection) as queries:
        api.get(f"{COMMON}&page[limit]=10&page[offset]=0&page[count]=estimate")
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 20" in counts[0] and "ORDER BY" not in counts[0].upper()


def test_unfiltered_counted_tables_stay_exact(api, tagged_images, cap):
    cap(0)  # images are counted by triggers (row_count_slots): exact costs nothing
    body = api.get("/api/images?page[size]=10&page[count]=estimate").json()
    assert body["meta"]["total"] == 60 and body["meta"]["total_is"] == "exact"


@pytest.mark.parametrize("path, exact", [
    ("/api/models?filter[size][gt]=0", 5),
    ("/api/images?filter[width][gt]=0", 6),
    ("/api/tasks?filter[steps][gt]=0", 3),
    ("/api/tags", 7),
])
def test_every_list_endpoint_estimates(api, lib, cap, path, exact):
    cap(1)
    body = api.get(f"{path}{'&' if '?' in path else '?'}page[size]=1&page[count]=estimate").json()
    assert len(body["data"]) == 1
    assert body["meta"]["total"] == 2 and body["meta"]["total_is"] == "at_least"
    assert "last" not in body["links"] and "next" in body["links"]
    assert api.get(f"{path}{'&' if '?' in path else '?'}page[size]=1").json()["meta"]["total"] == exact


@pytest.mark.parametrize("value", ["", "Estimate", "approximate", "exact,estimate", "1"])
def test_bad_count_values(api, lib, value):
    assert_error(api.get("/api/images", {"page[count]": value}), 400, "invalid_parameter", parameter="page[count]")


def test_count_is_a_collection_parameter(api, lib):
    assert_error(api.get("/api/images?page[count]=estimate&page[count]=exact"), 400, "invalid_parameter",
                 parameter="page[count]")
    assert_error(api.get(f"/api/images/{sha(0xA1)}?page[count]=estimate"), 400, "invalid_parameter",
                 parameter="page[count]")
