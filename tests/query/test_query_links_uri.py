"""Every `links` member of a collection document is a valid URI reference (RFC 3986): the brackets of
`page[...]`, `filter[...]` and `fields[...]` are percent-encoded and the links still work (issue 8 item 16)."""

import re
from urllib.parse import parse_qsl, urlsplit

from tests.support.factories import make_model

# RFC 3986 relative-ref: path-absolute "?" query, where query = *( pchar / "/" / "?" ).
PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
URI_REFERENCE = re.compile(rf"^(?:/{PCHAR}*)+\?(?:{PCHAR}|[/?])*$")


def test_links_are_uri_references_that_round_trip(api, db):
    for n in range(3):
        make_model(name=f"m{n} [x]")
    query = {"filter[name][contains]": "[x]", "sort": "-name", "fields[model]": "name", "page[size]": "1"}
    body = api.get("/api/models", query).json()
    assert set(body["links"]) == {"self", "first", "next", "last"}
    for name, link in body["links"].items():
        assert URI_REFERENCE.match(link), (name, link)
        assert "[" not in link and "]" not in link
    assert dict(parse_qsl(urlsplit(body["links"]["self"]).query)) == {**query, "page[number]": "1"}
    following = api.get(body["links"]["next"]).json()
    assert following["meta"]["page"] == {"number": 2, "size": 1, "total": 3}
    assert [o["attributes"] for o in following["data"]] == [{"name": "m1 [x]"}]


def test_offset_links_are_uri_references(api, db):
    make_model()
    body = api.get("/api/models?page[offset]=0&page[limit]=5").json()
    assert body["links"]["self"] == "/api/models?page%5Boffset%5D=0&page%5Blimit%5D=5"
    assert all(URI_REFERENCE.match(link) for link in body["links"].values())
