from tests.support.api import assert_error


def test_version_reports_running_system(api):
    body = api.get("/api/version").json()
    assert body["api_version"] == "1.0.0"
    assert body["python_version"].count(".") == 2
    assert body["pytorch_version"]
    assert "platform" in body


def test_config_has_no_secrets(api, settings):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": None, "CIVITAI_TOKEN": "secret-civitai"}
    response = api.get("/api/config")
    assert response.status_code == 200
    assert b"secret-civitai" not in response.content
    body = response.json()
    assert body["generation"]["max_batch_size"] == 4
    assert "DPM++ 2M Karras" in body["generation"]["samplers"]
    assert body["hardware"]["device"] in {"cpu", "cuda", "mps"}


def test_unknown_route_is_json_404(api):
    assert_error(api.get("/api/does-not-exist"), 404, "not_found")


def test_token_required_when_configured(api, settings):
    settings.SDHOST = {**settings.SDHOST, "API_TOKEN": "s3cret"}
    assert_error(api.get("/api/version"), 401, "unauthorized")
    assert_error(api.get("/api/version", HTTP_AUTHORIZATION="Bearer wrong"), 401, "unauthorized")
    assert api.get("/api/version", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    # ?token= is only for SSE endpoints
    assert_error(api.get("/api/version?token=s3cret"), 401, "unauthorized")
