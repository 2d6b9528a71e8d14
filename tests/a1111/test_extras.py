"""POST /sdapi/v1/extra-single-image and /extra-batch-images: A1111's extras upscale as upscale tasks (D38), the same
path as POST /api/images/{hash}/upscale, with A1111's fields and answers (#22 item 2). The upscales themselves, through
the `webuiapi` client: test_webuiapi.py."""

import base64
import io

import requests
from PIL import Image as PILImage

from images_app.models import Image
from tasks_app.models import Task
from tests.a1111.conftest import picture


def b64(image) -> str:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def decoded(text) -> PILImage.Image:
    return PILImage.open(io.BytesIO(base64.b64decode(text)))


def test_upscaler_none_answers_the_images_unchanged(base_url, library):
    source = picture()
    response = requests.post(f"{base_url}/extra-single-image", json={"image": b64(source)}, timeout=10)
    assert response.status_code == 200 and response.json()["html_info"] == "<p></p>"
    assert decoded(response.json()["image"]).tobytes() == source.tobytes()
    assert not Task.objects.exists()  # A1111's default `upscaler_1: None` upscales nothing


def test_refusals_are_a1111_422s_and_change_nothing(base_url, library, render_worker):
    cases = [
        ({"image": b64(picture()), "upscaler_1": "4x-nothing"}, ["body", "upscaler_1"],
         "could not find upscaler named 4x-nothing"),
        ({"image": b64(picture()), "upscaler_1": "4x-tiny", "upscaling_resize": 8}, ["body", "upscaling_resize"],
         "'scale' must be a number from 1 to 4"),
        ({"image": b64(picture()), "upscaler_1": "Lanczos", "resize_mode": 1, "upscaling_resize_w": 16,
          "upscaling_resize_h": 16}, ["body", "upscaling_resize_w"], "16x16 scales the 32x32 image by 0.5"),
        ({"image": b64(picture()), "resize_mode": 2}, ["body", "resize_mode"], "permitted: 0, 1"),
        ({"image": "not an image", "upscaler_1": "Lanczos"}, ["body", "image"], "Invalid encoded image"),
    ]
    for body, loc, message in cases:
        response = requests.post(f"{base_url}/extra-single-image", json=body, timeout=10)
        assert response.status_code == 422, response.text
        [detail] = response.json()["detail"]
        assert detail["loc"] == loc and message in detail["msg"], detail
    batch = requests.post(f"{base_url}/extra-batch-images", json={"imageList": [{"data": b64(picture())}]},
                          timeout=10)
    assert batch.status_code == 422 and batch.json()["detail"][0]["loc"] == ["body", "imageList", 0, "name"]
    assert not Task.objects.exists() and not Image.objects.exists()


def test_what_is_not_honoured_is_said_in_html_info(base_url, library, render_worker):
    body = {"image": b64(picture()), "upscaler_1": "Lanczos", "upscaling_resize": 1.5, "gfpgan_visibility": 0.5,
            "upscaler_2": "4x-tiny", "extras_upscaler_2_visibility": 0.3}
    response = requests.post(f"{base_url}/extra-single-image", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["html_info"] == ("<p>Postprocess upscale by: 1.5, Postprocess upscaler: Lanczos<br>\n"
                                            "Ignored: gfpgan_visibility, extras_upscaler_2_visibility</p>")
    assert decoded(response.json()["image"]).size == (48, 48)
