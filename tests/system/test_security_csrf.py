"""CSRF: a page of another origin cannot drive the server through the user's browser (issue 23, item 3).

A state-changing request (POST, PUT, PATCH, DELETE) under /api, /sdapi and /controlnet is refused with 403 when its
`Origin` is neither this server nor an origin of SDHOST_CORS_ORIGINS, or, without `Origin`, when
`Sec-Fetch-Site` says another site's page sent it. Programs that send neither header keep working, and the API's
JSON bodies must say they are JSON (a page can send text/plain and forms without a preflight).
"""

import json
import re

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLResolver, get_resolver

from images_app.models import Image
from tasks_app.models import Task
from tests.support.api import assert_error
from tests.support.factories import make_image, make_model, png_bytes

EVIL = "http://evil.example"
WRITE_METHODS = ("post", "put", "patch", "delete")
API_PREFIXES = ("/api", "/sdapi/", "/controlnet/")


def routes(patterns=None, prefix="/"):
    """Every URL pattern of the project as a path, its parameters filled with `x`."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + route)
        else:
            yield prefix + re.sub(r"<[^>]+>", "x", route.replace("^.*$", "no-such-route"))


API_ROUTES = sorted({route for route in routes() if route.startswith(API_PREFIXES)})


def test_the_route_list_holds_every_write_route():
    for route in ("/api/tasks", "/api/tasks/promote", "/api/images/upload", "/api/images/x", "/api/models",
                  "/api/models/add-from-civitai", "/api/images/x/upscale", "/sdapi/v1/txt2img", "/sdapi/v1/options",
                  "/sdapi/v1/interrupt", "/sdapi/v1/refresh-checkpoints", "/controlnet/version"):
        assert route in API_ROUTES, route


@pytest.mark.django_db
@pytest.mark.parametrize("route", API_ROUTES)
def test_every_write_route_refuses_another_origin(api, route):
    for method in WRITE_METHODS:
        for headers in ({"HTTP_ORIGIN": EVIL}, {"HTTP_ORIGIN": "null"}, {"HTTP_SEC_FETCH_SITE": "cross-site"}):
            response = getattr(api, method)(route, "{}", content_type="text/plain", **headers)
            if route.startswith("/api"):
                error = assert_error(response, 403, "cross_origin_refused")
                assert "SDHOST_CORS_ORIGINS" in error["detail"] or "Sec-Fetch-Site" in error["detail"]
            else:  # A1111's error shape
                assert response.status_code == 403, (method, route, headers, response.content)
                body = response.json()
                assert body["error"] == "HTTPException" and body["detail"].startswith("Cross-origin write refused")


@pytest.mark.django_db
def test_reads_from_another_origin_are_answered(api):
    """GET changes nothing: it is answered (the browser keeps the answer from the page without CORS)."""
    assert api.get("/api/version", HTTP_ORIGIN=EVIL).status_code == 200
    assert api.get("/sdapi/v1/options", HTTP_ORIGIN=EVIL).status_code == 200


@pytest.mark.django_db
def test_a1111_writes_from_another_origin_change_nothing(api):
    before = api.get("/sdapi/v1/options").json()
    changed = api.post("/sdapi/v1/options", json.dumps({"CLIP_stop_at_last_layers": 2}), content_type="text/plain",
                       HTTP_ORIGIN=EVIL)
    assert changed.status_code == 403
    assert api.get("/sdapi/v1/options").json() == before
    make_model(name="tiny")
    rendered = api.post("/sdapi/v1/txt2img", json.dumps({"prompt": "a cat", "steps": 1}), content_type="text/plain",
                        HTTP_ORIGIN=EVIL)
    assert rendered.status_code == 403 and Task.objects.count() == 0
    for route in ("interrupt", "skip", "refresh-checkpoints", "refresh-loras", "refresh-vae"):
        assert api.post(f"/sdapi/v1/{route}", HTTP_ORIGIN=EVIL).status_code == 403, route


@pytest.mark.django_db
def test_multipart_upload_from_another_origin_is_refused_from_the_ui_accepted(api):
    data = png_bytes()
    refused = api.post("/api/images/upload", {"file": SimpleUploadedFile("a.png", data, "image/png")},
                       HTTP_ORIGIN=EVIL)
    assert_error(refused, 403, "cross_origin_refused")
    assert Image.objects.count() == 0
    from_ui = api.post("/api/images/upload", {"file": SimpleUploadedFile("a.png", data, "image/png")},
                       HTTP_ORIGIN="http://testserver", HTTP_SEC_FETCH_SITE="same-origin")
    assert from_ui.status_code == 201 and Image.objects.count() == 1


@pytest.mark.django_db
def test_api_writes_from_another_origin_change_nothing(api):
    image = make_image()
    refused = api.post_json(f"/api/images/{image.hash}", {"rating": 5}, HTTP_ORIGIN=EVIL)
    assert_error(refused, 403, "cross_origin_refused")
    assert_error(api.delete(f"/api/images/{image.hash}", HTTP_ORIGIN=EVIL), 403, "cross_origin_refused")
    image.refresh_from_db()
    assert "rating" not in (image.metadata or {})
    assert Image.objects.filter(pk=image.hash).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("host,origin", [
    ("testserver", "http://testserver"),
    ("localhost:8000", "http://localhost:8000"),
    ("localhost:8000", "http://LOCALHOST:8000"),
    ("localhost", "http://localhost"),
    ("localhost", "https://localhost"),  # a TLS-terminating proxy that forwards the Host header
    ("localhost:80", "http://localhost"),
    ("127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("[::1]:8000", "http://[::1]:8000"),
    ("[::1]", "http://[0:0:0:0:0:0:0:1]"),
])
def test_pages_of_this_server_may_write(api, host, origin):
    response = api.post("/sdapi/v1/interrupt", HTTP_HOST=host, HTTP_ORIGIN=origin)
    assert response.status_code == 200, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("host,origin", [
    ("localhost:8000", "http://localhost:3000"),  # another server on the same machine
    ("localhost:8000", "http://localhost"),
    ("localhost", "http://localhost:8080"),
    ("127.0.0.1:8000", "http://localhost:8000"),  # another name is another origin
    ("[::1]:8000", "http://[::1]:8001"),
    ("[::1]:8000", "http://[::2]:8000"),
    ("localhost:8000", "http://localhost:8000.evil.example"),
    ("localhost:8000", "http://evil.example#localhost:8000"),
    ("localhost:8000", "file://"),
    ("localhost:8000", "null"),
    ("localhost:8000", "not an origin"),
    ("localhost:8000", "http://[::1:8000"),
])
def test_pages_of_other_origins_may_not(api, host, origin):
    response = api.post("/sdapi/v1/interrupt", HTTP_HOST=host, HTTP_ORIGIN=origin)
    assert response.status_code == 403, response.content


@pytest.mark.django_db
def test_sec_fetch_site_without_origin(api):
    assert api.post("/sdapi/v1/skip", HTTP_SEC_FETCH_SITE="same-origin").status_code == 200
    assert api.post("/sdapi/v1/skip", HTTP_SEC_FETCH_SITE="none").status_code == 200
    assert api.post("/sdapi/v1/skip", HTTP_SEC_FETCH_SITE="same-site").status_code == 403
    assert api.post("/sdapi/v1/skip", HTTP_SEC_FETCH_SITE="cross-site").status_code == 403


@pytest.mark.django_db
def test_programs_without_origin_keep_working(api):
    assert api.post("/sdapi/v1/options", json.dumps({"CLIP_stop_at_last_layers": 2}),
                    content_type="application/json").status_code == 200
    assert api.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 2
    assert api.post("/sdapi/v1/interrupt").status_code == 200


@pytest.mark.django_db
def test_configured_cors_origin_may_write(api, settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:5173"]
    assert api.post("/sdapi/v1/interrupt", HTTP_ORIGIN="http://localhost:5173").status_code == 200
    assert api.post("/sdapi/v1/interrupt", HTTP_ORIGIN="http://localhost:5174").status_code == 403
    settings.CORS_ALLOWED_ORIGINS, settings.CORS_ALLOW_ALL_ORIGINS = [], True  # SDHOST_CORS_ORIGINS=*
    assert api.post("/sdapi/v1/interrupt", HTTP_ORIGIN=EVIL).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a1111_json_bodies_must_say_json(api, content_type):
    before = api.get("/sdapi/v1/options").json()
    body = json.dumps({"CLIP_stop_at_last_layers": 2})
    if content_type == "multipart/form-data":
        response = api.post("/sdapi/v1/options", {"CLIP_stop_at_last_layers": "2"})
    else:
        response = api.post("/sdapi/v1/options", body, content_type=content_type)
    assert response.status_code == 415, response.content
    answer = response.json()
    assert answer["error"] == "UnsupportedMediaType" and "application/json" in answer["detail"]
    assert api.get("/sdapi/v1/options").json() == before
    for route in ("txt2img", "img2img", "png-info"):
        refused = api.post(f"/sdapi/v1/{route}", body, content_type="text/plain")
        assert refused.status_code == 415, (route, refused.content)
    assert api.post("/sdapi/v1/options", body, content_type="application/json; charset=utf-8").status_code == 200


JSON_WRITES = [  # every /api route that takes a JSON body, with the method that does
    ("post", "/api/tasks"), ("delete", "/api/tasks"), ("put", "/api/tasks/promote"),
    ("post", "/api/tasks/parse-parameters"), ("post", "/api/models"), ("delete", "/api/models"),
    ("post", "/api/models/{model}"), ("post", "/api/models/add-from-civitai"), ("post", "/api/images"),
    ("delete", "/api/images"), ("post", "/api/images/{image}"), ("post", "/api/images/{image}/upscale"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method,route", JSON_WRITES)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_api_json_bodies_must_say_json(api, method, route, content_type):
    model, image = make_model(name="tiny"), make_image()
    path = route.format(model=model.pk, image=image.hash)
    response = getattr(api, method)(path, json.dumps({"data": {}}), content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


def test_live_server_web_ui_origin_and_programs(live_url):
    """Over real sockets: the UI (its own Origin) and a program (none) may write, another page may not."""
    data = png_bytes()
    upload = f"{live_url}/api/images/upload"
    page = requests.post(upload, files={"file": ("a.png", data, "image/png")}, headers={"Origin": EVIL}, timeout=10)
    assert page.status_code == 403 and page.json()["errors"][0]["code"] == "cross_origin_refused"
    assert "Access-Control-Allow-Origin" not in page.headers
    ui = requests.post(upload, data=data, headers={"Origin": live_url, "Content-Type": "image/png"}, timeout=10)
    assert ui.status_code == 201, ui.text
    program = requests.post(f"{live_url}/sdapi/v1/options", json={"CLIP_stop_at_last_layers": 2}, timeout=10)
    assert program.status_code == 200
    form = requests.post(f"{live_url}/sdapi/v1/options", data={"CLIP_stop_at_last_layers": "3"},
                         headers={"Origin": EVIL}, timeout=10)
    assert form.status_code == 403
    assert requests.get(f"{live_url}/sdapi/v1/options", timeout=10).json()["CLIP_stop_at_last_layers"] == 2


@pytest.mark.django_db
def test_the_openapi_document_lists_the_refusal_on_every_write(api):
    schema = api.get("/api/schema", HTTP_ACCEPT="application/json").json()
    writes = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()
              if method in WRITE_METHODS]
    assert len(writes) >= 12
    for path, method, op in writes:
        refusal = op["responses"]["403"]
        assert "cross_origin_refused" in refusal["description"], (method, path)
        assert refusal["content"]["application/json"]["example"]["errors"][0]["status"] == "403"


@pytest.mark.django_db
def test_django_csrf_guards_the_admin_and_skips_the_apis_by_path():
    """One rule: Django's cookie-and-token CSRF check for the admin (it has a session cookie), the Origin rule for
    the cookie-less APIs, whose views are not marked csrf_exempt."""
    client = Client(enforce_csrf_checks=True)
    assert client.post("/admin/login/", {"username": "a", "password": "b"}).status_code == 403
    assert client.post("/sdapi/v1/options", json.dumps({"CLIP_stop_at_last_layers": 2}),
                       content_type="application/json").status_code == 200
    assert client.post("/sdapi/v1/interrupt").status_code == 200
    assert client.post("/api/tasks/parse-parameters", json.dumps({"parameters": "a cat\nSteps: 3"}),
                       content_type="application/json").status_code == 200
