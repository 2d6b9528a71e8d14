"""CORS: SDHOST_CORS_ORIGINS lets a front-end on another origin use the API and its streams (issue 8, item 14)."""

import requests

ORIGIN = "http://localhost:5173"


def preflight(url, method="GET", headers="authorization"):
    return requests.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": method,
                                          "Access-Control-Request-Headers": headers}, timeout=10)


def test_cors_is_off_by_default(live_url, settings):
    assert settings.CORS_ALLOWED_ORIGINS == [] and not settings.CORS_ALLOW_ALL_ORIGINS
    response = requests.get(f"{live_url}/api/version", headers={"Origin": ORIGIN}, timeout=10)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Origin" not in preflight(f"{live_url}/api/models").headers


def test_preflight_with_authorization_passes_the_token_check(live_url, settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    response = preflight(f"{live_url}/api/tasks", method="POST", headers="authorization, content-type")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "POST" in response.headers["Access-Control-Allow-Methods"]

    listed = requests.get(f"{live_url}/api/models", headers={"Origin": ORIGIN, "Authorization": "Bearer s3cret"},
                          timeout=10)
    assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == ORIGIN
    refused = requests.get(f"{live_url}/api/models", headers={"Origin": ORIGIN}, timeout=10)
    assert refused.status_code == 401  # readable by the page: it carries the CORS header too
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_other_origins_get_no_cors_headers(live_url, settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    response = requests.get(f"{live_url}/api/version", headers={"Origin": "http://evil.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in response.headers


def test_event_stream_with_token_parameter_carries_cors_headers(live_url, settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    with requests.get(f"{live_url}/api/tasks/queue?token=s3cret", headers={"Origin": ORIGIN}, stream=True,
                      timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        lines = response.iter_lines(decode_unicode=True)
        assert next(lines).startswith("id: ") and next(lines).startswith("data: ")  # the first event: its id, its data
