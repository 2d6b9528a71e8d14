"""GET /api/images/{hash}/thumbnail: resized WebP, cached on disk, ETag / If-None-Match, errors."""

import io

import pytest
from PIL import Image as PILImage

from images_app.thumbnails import SIZES
from tests.support.api import assert_error
from tests.support.factories import make_image

pytestmark = pytest.mark.django_db


def picture(response):
    with PILImage.open(io.BytesIO(b"".join(response.streaming_content))) as img:
        return img.format, img.size


def test_default_size_keeps_the_aspect_ratio_and_is_cached(api, data_dirs):
    image = make_image(width=600, height=300)
    response = api.get(f"/api/images/{image.hash}/thumbnail")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["ETag"] == f'"{image.hash}-256"'
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert picture(response) == ("WEBP", (256, 128))
    cached = data_dirs / "cache" / "thumbnails" / image.hash[:2] / f"{image.hash}.256.webp"
    assert cached.is_file()
    mtime = cached.stat().st_mtime_ns
    assert picture(api.get(f"/api/images/{image.hash}/thumbnail?size=256")) == ("WEBP", (256, 128))
    assert cached.stat().st_mtime_ns == mtime  # served from the cache, not made again


def test_a_cached_thumbnail_is_served_without_a_database_query(api, django_assert_num_queries):
    image = make_image(width=100, height=100)
    assert api.get(f"/api/images/{image.hash}/thumbnail?size=128").status_code == 200
    with django_assert_num_queries(0):
        response = api.get(f"/api/images/{image.hash}/thumbnail?size=128")
    assert picture(response) == ("WEBP", (100, 100))


@pytest.mark.parametrize("size", SIZES)
def test_every_allowed_size(api, size):
    image = make_image(width=300, height=900)
    response = api.get(f"/api/images/{image.hash}/thumbnail?size={size}")
    assert response.status_code == 200
    expected = (round(300 * min(size, 900) / 900), min(size, 900))
    assert picture(response) == ("WEBP", expected)


def test_never_larger_than_the_image(api):
    image = make_image(width=40, height=20)
    assert picture(api.get(f"/api/images/{image.hash}/thumbnail?size=512")) == ("WEBP", (40, 20))


def test_if_none_match_answers_304(api):
    image = make_image(width=64, height=64)
    etag = api.get(f"/api/images/{image.hash}/thumbnail?size=128")["ETag"]
    again = api.get(f"/api/images/{image.hash}/thumbnail?size=128", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    other_size = api.get(f"/api/images/{image.hash}/thumbnail?size=64", HTTP_IF_NONE_MATCH=etag)
    assert other_size.status_code == 200


@pytest.mark.parametrize("size", ["0", "100", "-256", "abc", "256.0", "", "99999999999999999999"])
def test_bad_size_is_a_400(api, size):
    image = make_image()
    assert_error(api.get(f"/api/images/{image.hash}/thumbnail?size={size}"), 400, "invalid_parameter", parameter="size")


@pytest.mark.parametrize("pk", ["0" * 64, "not-a-hash", "A" * 64])
def test_unknown_image_is_a_404(api, pk):
    assert_error(api.get(f"/api/images/{pk}/thumbnail"), 404, "not_found")


def test_missing_file_is_a_404_and_deleting_the_image_drops_its_thumbnails(api, data_dirs,
                                                                          django_capture_on_commit_callbacks):
    image = make_image(width=32, height=32)
    assert api.get(f"/api/images/{image.hash}/thumbnail?size=64").status_code == 200
    cached = data_dirs / "cache" / "thumbnails" / image.hash[:2] / f"{image.hash}.64.webp"
    assert cached.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/images/{image.hash}").status_code == 200
    assert not cached.exists()
    assert_error(api.get(f"/api/images/{image.hash}/thumbnail?size=64"), 404, "not_found")

    orphan = make_image(width=32, height=32)
    (data_dirs / "images" / orphan.hash[:2] / f"{orphan.hash}.png").unlink()
    assert_error(api.get(f"/api/images/{orphan.hash}/thumbnail"), 404, "not_found")
