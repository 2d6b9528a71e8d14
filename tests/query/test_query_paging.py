"""Sorting, paging, meta and links (query-protocol.md §3, §4, §7), and unknown parameters (D16)."""

from datetime import timedelta

import pytest

from images_app.models import Image, ImageTag
from system_app.models import Tag
from tests.support.api import assert_error
from tests.support.query_seed import at, ids, sha


@pytest.fixture
def many_images(api):
    """60 images, created one minute apart (image n is the n-th newest... oldest first by n)."""
    start = at("2025-01-01T00:00:00")
    rows = [
        Image(hash=sha(1000 + n), width=64, height=64, size=100 + n, seed=n % 3,
              metadata={"rating": n % 5}, created_at=start + timedelta(minutes=n))
        for n in range(60)
    ]
    Image.objects.bulk_create(rows)
    return rows


# --- sorting ------------------------------------------------------------------------------

def test_default_sort_is_newest_first(api, lib):
    assert ids(api.get("/api/models")) == [sha(5), sha(4), sha(3), sha(2), sha(1)]
    assert ids(api.get("/api/tasks")) == [lib.tasks.t3.id, lib.tasks.t2.id, lib.tasks.t1.id]
    assert ids(api.get("/api/tags")) == ["anime", "favorite", "forest", "nsfw", "Painterly", "scenery", "unused"]


def test_multi_key_sort_and_alias(api, lib):
    assert ids(api.get("/api/models?sort=model_type,-size")) == [sha(1), sha(4), sha(5), sha(2), sha(3)]
    assert ids(api.get("/api/models?sort=type,-size")) == [sha(1), sha(4), sha(5), sha(2), sha(3)]  # D22
    assert ids(api.get("/api/models?sort=base_model,name")) == [sha(5), sha(2), sha(4), sha(3), sha(1)]
    assert ids(api.get("/api/tasks?sort=cfg_scale")) == [lib.tasks.t1.id, lib.tasks.t2.id, lib.tasks.t3.id]


def test_ties_are_broken_by_id(api, lib):
    # i5 and i6 share seed 7; i2 has no seed (NULL sorts first ascending)
    assert ids(api.get("/api/images?sort=seed")) == [sha(0xA2), sha(0xA5), sha(0xA6), sha(0xA4), sha(0xA1), sha(0xA3)]
    assert ids(api.get("/api/images?sort=-seed")) == [sha(0xA3), sha(0xA1), sha(0xA4), sha(0xA5), sha(0xA6), sha(0xA2)]


def test_sort_by_tag_count(api, lib):
    assert ids(api.get("/api/images?sort=-tag_count,-created_at")) == [
        sha(0xA4), sha(0xA1), sha(0xA3), sha(0xA5), sha(0xA2), sha(0xA6)]
    assert ids(api.get("/api/models?sort=tag_count,name")) == [sha(3), sha(5), sha(4), sha(2), sha(1)]


def test_sort_by_metadata(api, lib):
    # entities lacking the key come last in both directions
    assert ids(api.get("/api/images?sort=-metadata.rating")) == [
        sha(0xA1), sha(0xA3), sha(0xA2), sha(0xA6), sha(0xA4), sha(0xA5)]
    assert ids(api.get("/api/images?sort=metadata.rating")) == [
        sha(0xA6), sha(0xA2), sha(0xA3), sha(0xA1), sha(0xA4), sha(0xA5)]


@pytest.mark.parametrize("sort", ["prompt", "nope", "", "-", "tags", "metadata.rating", "id,", "status;drop"])
def test_bad_sort_keys(api, lib, sort):
    assert_error(api.get("/api/tasks", {"sort": sort}), 400, "invalid_parameter", parameter="sort")


def test_unsortable_attributes(api, lib):
    assert_error(api.get("/api/models?sort=description"), 400, "invalid_parameter", parameter="sort")
    assert_error(api.get("/api/models?sort=metadata"), 400, "invalid_parameter", parameter="sort")
    assert_error(api.get("/api/images?sort=metadata.bad-key"), 400, "invalid_parameter", parameter="sort")


# --- paging -------------------------------------------------------------------------------

def test_number_paging_meta_and_links(api, many_images):
    body = api.get("/api/images?sort=created_at&page[number]=2&page[size]=25").json()
    assert [o["id"] for o in body["data"]] == [sha(1000 + n) for n in range(25, 50)]
    assert body["meta"] == {"total": 60, "page": {"number": 2, "size": 25, "total": 3}}
    assert body["links"] == {
        "self": "/api/images?sort=created_at&page%5Bnumber%5D=2&page%5Bsize%5D=25",
        "first": "/api/images?sort=created_at&page%5Bnumber%5D=1&page%5Bsize%5D=25",
        "prev": "/api/images?sort=created_at&page%5Bnumber%5D=1&page%5Bsize%5D=25",
        "next": "/api/images?sort=created_at&page%5Bnumber%5D=3&page%5Bsize%5D=25",
        "last": "/api/images?sort=created_at&page%5Bnumber%5D=3&page%5Bsize%5D=25",
    }
    assert "included" not in body


def test_default_page_and_ends(api, many_images):
    body = api.get("/api/images").json()
    assert len(body["data"]) == 50
    assert body["meta"] == {"total": 60, "page": {"number": 1, "size": 50, "total": 2}}
    assert "prev" not in body["links"]
    assert body["links"]["next"] == "/api/images?page%5Bnumber%5D=2&page%5Bsize%5D=50"
    last = api.get(body["links"]["last"]).json()
    assert len(last["data"]) == 10 and "next" not in last["links"]
    assert last["links"]["prev"] == "/api/images?page%5Bnumber%5D=1&page%5Bsize%5D=50"


def test_offset_paging_equals_number_paging(api, many_images):
    by_number = api.get("/api/images?page[number]=3&page[size]=25").json()
    by_offset = api.get("/api/images?page[offset]=50&page[limit]=25").json()
    assert [o["id"] for o in by_number["data"]] == [o["id"] for o in by_offset["data"]]
    assert by_offset["meta"] == {"total": 60, "page": {"offset": 50, "limit": 25}}
    assert by_offset["links"] == {
        "self": "/api/images?page%5Boffset%5D=50&page%5Blimit%5D=25",
        "first": "/api/images?page%5Boffset%5D=0&page%5Blimit%5D=25",
        "prev": "/api/images?page%5Boffset%5D=25&page%5Blimit%5D=25",
        "last": "/api/images?page%5Boffset%5D=50&page%5Blimit%5D=25",
    }
    only_limit = api.get("/api/images?page[limit]=7").json()
    assert len(only_limit["data"]) == 7 and only_limit["meta"]["page"] == {"offset": 0, "limit": 7}
    assert only_limit["links"]["next"] == "/api/images?page%5Boffset%5D=7&page%5Blimit%5D=7"


def test_links_keep_other_parameters_and_walk_all_pages(api, many_images):
    url = "/api/images?filter[metadata.rating][gte]=2&sort=-size&fields[image]=size&page[size]=10"
    seen = []
    while url:
        body = api.get(url).json()
        seen += [o["id"] for o in body["data"]]
        assert body["links"]["self"].startswith(
            "/api/images?filter%5Bmetadata.rating%5D%5Bgte%5D=2&sort=-size&fields%5Bimage%5D=size&page%5Bnumber%5D=")
        url = body["links"].get("next")
    expected = [sha(1000 + n) for n in reversed(range(60)) if n % 5 >= 2]
    assert seen == expected
    assert body["meta"]["total"] == 36


def test_links_escape_values_that_need_it(api, lib):
    body = api.get("/api/models", {"filter[name][contains]": "a&b=c d#"}).json()
    assert body["links"]["self"] == "/api/models?filter%5Bname%5D%5Bcontains%5D=a%26b%3Dc%20d%23&page%5Bnumber%5D=1&page%5Bsize%5D=50"
    assert api.get(body["links"]["self"]).status_code == 200


def test_page_past_the_end_is_empty(api, many_images):
    body = api.get("/api/images?page[number]=9&page[size]=25").json()
    assert body["data"] == []
    assert body["meta"] == {"total": 60, "page": {"number": 9, "size": 25, "total": 3}}
    assert body["links"]["prev"] == "/api/images?page%5Bnumber%5D=3&page%5Bsize%5D=25"
    assert "next" not in body["links"]
    huge = api.get(f"/api/images?page[number]={2**62}&page[size]=200").json()
    assert huge["data"] == [] and huge["meta"]["total"] == 60
    assert api.get(f"/api/images?page[offset]={2**63 - 1}").json()["data"] == []


def test_empty_collection(api):
    body = api.get("/api/models").json()
    assert body["data"] == []
    assert body["meta"] == {"total": 0, "page": {"number": 1, "size": 50, "total": 0}}
    assert body["links"] == {"self": "/api/models?page%5Bnumber%5D=1&page%5Bsize%5D=50",
                             "first": "/api/models?page%5Bnumber%5D=1&page%5Bsize%5D=50",
                             "last": "/api/models?page%5Bnumber%5D=1&page%5Bsize%5D=50"}


@pytest.mark.parametrize("query, parameter", [
    ("page[size]=0", "page[size]"),
    ("page[size]=201", "page[size]"),
    ("page[size]=1000000000", "page[size]"),
    ("page[size]=ten", "page[size]"),
    ("page[number]=0", "page[number]"),
    ("page[number]=-1", "page[number]"),
    ("page[number]=1.5", "page[number]"),
    ("page[number]=99999999999999999999999999", "page[number]"),
    ("page[offset]=-1", "page[offset]"),
    ("page[limit]=0", "page[limit]"),
    ("page[limit]=500", "page[limit]"),
    ("page[cursor]=abc", "page[cursor]"),
    ("page=1", "page"),
    ("page[number]=1&page[offset]=0", "page[offset]"),
    ("page[size]=10&page[limit]=10", "page[limit]"),
    ("page[size]=10&page[size]=20", "page[size]"),
])
def test_bad_paging(api, lib, query, parameter):
    assert_error(api.get(f"/api/images?{query}"), 400, "invalid_parameter", parameter=parameter)


@pytest.mark.parametrize("query, parameter", [
    ("type=lora", "type"), ("tags=anime", "tags"), ("exclude_tags=nsfw", "exclude_tags"),
    ("search=valley", "search"), ("skip=10", "skip"), ("take=5", "take"), ("order=asc", "order"),
    ("status=ready", "status"), ("sort[name]=1", "sort[name]"), ("Filter[name]=x", "Filter[name]"),
    ("include[]=tags", "include[]"), ("token=abc", "token"),
])
def test_unknown_parameters_are_rejected(api, lib, query, parameter):
    """D16: the legacy plain parameters and anything else unknown."""
    assert_error(api.get(f"/api/models?{query}"), 400, "invalid_parameter", parameter=parameter)


def test_collection_parameters_are_rejected_on_single_reads(api, lib):
    url = f"/api/models/{sha(1)}"
    assert_error(api.get(f"{url}?filter[name]=x"), 400, "invalid_parameter", parameter="filter[name]")
    assert_error(api.get(f"{url}?sort=name"), 400, "invalid_parameter", parameter="sort")
    assert_error(api.get(f"{url}?page[size]=1"), 400, "invalid_parameter", parameter="page[size]")


def test_paging_stays_stable_with_ties(api, lib):
    for n in range(30):
        tag = Tag(name=f"t{n:02d}")
        tag.save()
    Image.objects.bulk_create([
        Image(hash=sha(5000 + n), width=8, height=8, size=1, created_at=at("2025-06-01T00:00:00"))
        for n in range(30)
    ])
    ImageTag.objects.create(image_id=sha(5007), tag_id="t00")
    pages = [ids(api.get(f"/api/images?filter[size]=1&sort=-tag_count&page[size]=7&page[number]={n}"))
             for n in range(1, 6)]
    flat = [i for page in pages for i in page]
    assert flat[0] == sha(5007)
    assert flat[1:] == sorted(set(flat) - {sha(5007)}) and len(set(flat)) == 30


def test_deep_pages_read_ids_first_and_match_the_order(api):
    """Offsets from DEFERRED_OFFSET on find the page's ids first: same rows, same order, same total."""
    from core.jsonapi.pagination import DEFERRED_OFFSET

    start = at("2025-01-01T00:00:00")
    count = 2 * DEFERRED_OFFSET + 100
    Image.objects.bulk_create(
        Image(hash=sha(5000 + n), width=64, height=64 + n % 2, size=100 + n, created_at=start + timedelta(minutes=n // 3))
        for n in range(count)  # three images per timestamp: the id breaks ties
    )
    ImageTag.objects.bulk_create(ImageTag(image_id=sha(5000 + n), tag=Tag.objects.named(["x"])[0])
                                 for n in range(0, count, 7))
    newest_first = sorted(range(count), key=lambda n: (-(n // 3), sha(5000 + n)))
    response = api.get(f"/api/images?page[offset]={DEFERRED_OFFSET + 5}&page[limit]=30")
    body = response.json()
    assert ids(response) == [sha(5000 + n) for n in newest_first[DEFERRED_OFFSET + 5:DEFERRED_OFFSET + 35]]
    assert body["meta"]["total"] == count
    tagged_first = sorted(range(count), key=lambda n: (-(n % 7 == 0), sha(5000 + n)))
    response = api.get(f"/api/images?sort=-tag_count&filter[height][eq]=64&page[offset]={DEFERRED_OFFSET + 10}")
    body = response.json()
    even = [n for n in tagged_first if n % 2 == 0]
    assert ids(response) == [sha(5000 + n) for n in even[DEFERRED_OFFSET + 10:DEFERRED_OFFSET + 60]]
    assert body["meta"]["total"] == len(even)
