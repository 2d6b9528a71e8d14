"""The UI's page and static files as plain HTTP (no browser): served offline, public shell, strict CSP."""

import re

import pytest
import requests
from django.test import Client

pytestmark = pytest.mark.django_db

MODULES = ("app.js", "api.js", "dom.js", "state.js", "gallery.js", "composer.js", "queue.js", "models.js")


@pytest.fixture
def client():
    return Client()


def test_the_page_is_served_at_the_root_and_names_only_local_files(client):
    response = client.get("/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "/static/ui/app.js" in html and "/static/ui/ui.css" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no CDN
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-cache"


def test_the_page_needs_no_token_but_the_api_does(client, settings):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    assert client.get("/").status_code == 200  # the shell holds no data; it asks for the token
    assert client.get("/api/images").status_code == 401


def test_every_module_and_the_stylesheet_are_served(live_url):
    for name in (*MODULES, "ui.css"):
        response = requests.get(f"{live_url}/static/ui/{name}", timeout=10)
        assert response.status_code == 200, name
        assert response.headers["Content-Type"].startswith("text/css" if name.endswith(".css") else "text/javascript")
        body = response.text
        assert not re.search(r"(from|import|url)\s*\(?\s*[\"']https?:", body), name  # nothing from elsewhere
        for imported in re.findall(r'from "\./([\w.]+)"', body):  # every relative import exists
            assert imported in MODULES, (name, imported)


def test_only_get_and_head(client):
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405
