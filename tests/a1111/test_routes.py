"""Every path of the A1111 layer (/sdapi, /controlnet) answers JSON in A1111's shapes, CSRF-exempt (the APIs use no
cookies; core.middleware.CrossOriginWriteMiddleware still refuses a page of another site), and the informational
routes clients call exist (#22 items 1, 3, 4)."""

import json

import pytest
from django.test import Client

from tests.a1111.conftest import TOKEN

UNKNOWN = ["/sdapi/v1/nope", "/sdapi/v1/unload-checkpoint", "/sdapi/v1", "/sdapi/v1/", "/sdapi", "/sdapi/v2/txt2img",
           "/controlnet/detect", "/controlnet/", "/controlnet"]


def client():
    """Django's test client with the CSRF check on, as a real browser-less client meets it."""
    return Client(HTTP_HOST="localhost", enforce_csrf_checks=True)


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_routes_answer_fastapis_json_404_never_the_csrf_page(settings, path, token):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": token}
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    for headers in ({}, {"HTTP_ORIGIN": "http://localhost"}):  # a program (webuiapi), then a same-origin page
        response = client().post(path, json.dumps({"image": ""}), content_type="application/json", **auth, **headers)
        assert (response.status_code, response["Content-Type"]) == (404, "application/json"), (path, response.content)
        assert response.json() == {"detail": "Not Found"}
    assert client().get(path, **auth).json() == {"detail": "Not Found"}
    if token:  # without the token: A1111's 401, JSON too
        refused = client().post(path, "{}", content_type="application/json")
        assert refused.status_code == 401 and refused.json() == {"detail": "Incorrect username or password"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/sdapi/v1/nope", "/sdapi/v1", "/controlnet/detect", "/controlnet",
                                  "/sdapi/v1/options"])
def test_cross_site_writes_are_still_refused_in_json(path):
    for headers in ({"HTTP_ORIGIN": "http://evil.example"}, {"HTTP_SEC_FETCH_SITE": "cross-site"}):
        response = client().post(path, "{}", content_type="text/plain", **headers)
        assert response.status_code == 403 and response["Content-Type"] == "application/json"
        assert response.json()["detail"].startswith("Cross-origin write refused")


@pytest.mark.django_db
def test_wrong_method_is_fastapis_405():
    response = client().delete("/sdapi/v1/txt2img")
    assert response.status_code == 405 and response.json() == {"detail": "Method Not Allowed"}


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["script-info", "extensions"])
def test_script_info_and_extensions_are_honest_empty_lists(route):
    response = client().get(f"/sdapi/v1/{route}")
    assert response.status_code == 200 and response.json() == []  # no selectable scripts, no extensions installed
    assert client().post(f"/sdapi/v1/{route}", "{}", content_type="application/json").status_code == 405


@pytest.mark.django_db
def test_interrogate_is_a_clear_501_in_a1111s_shape():
    response = client().post("/sdapi/v1/interrogate", json.dumps({"image": "", "model": "clip"}),
                             content_type="application/json")
    assert response.status_code == 501 and response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail", "body", "errors"} and body["error"] == "NotImplementedError"
    assert "Interrogate" in body["detail"] and "not provided" in body["detail"]
    assert client().get("/sdapi/v1/interrogate").json() == {"detail": "Method Not Allowed"}
