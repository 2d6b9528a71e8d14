"""Tag conditions take different SQL forms (resource.Carrying): common tags are probed row by row in pages sorted
by an index (EXISTS) and listed once in counts and in pages sorted otherwise (IN); `all` lists its rarest tag's links
that also carry the others; deep pages read their rows by id. Every form must give the rows and totals computed here
from the library itself."""

from datetime import timedelta

from core.jsonapi.filtering import PROBE_FROM_LINKS, PROBE_FROM_SHARE
from core.jsonapi.pagination import DEFERRED_OFFSET
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
