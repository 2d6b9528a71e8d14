"""DNS rebinding: a Host header outside ALLOWED_HOSTS is refused with a 400 (issue 8, item 11)."""

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.api import assert_error

ROOT = Path(__file__).resolve().parents[2]


def test_rebinding_host_is_a_json_api_error_under_api(api):
    response = api.get("/api/models", HTTP_HOST="evil.example")
    error = assert_error(response, 400, "invalid_host")
    assert "SDHOST_ALLOWED_HOSTS" in error["detail"]


def test_rebinding_host_is_a_plain_400_elsewhere(api):
    response = api.get("/admin/login/", HTTP_HOST="evil.example:8000")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")


def test_loopback_names_are_served(api):
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert api.get("/api/version", HTTP_HOST=host).status_code == 200, host


def test_live_server_refuses_a_rebinding_host(live_url):
    assert requests.get(f"{live_url}/api/models", timeout=10).status_code == 200
    response = requests.get(f"{live_url}/api/models", headers={"Host": "evil.example"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_host"


def allowed_hosts(**env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SDHOST_")}
    environment.update(env)
    code = "from django.conf import settings; print(','.join(settings.ALLOWED_HOSTS))"
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                            env={**environment, "DJANGO_SETTINGS_MODULE": "sdhost.settings"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")


def test_default_allowed_hosts_are_loopback_plus_the_configured_host_extended_by_the_setting(tmp_path):
    assert allowed_hosts(SDHOST_DATA_DIR=str(tmp_path)) == ["localhost", "127.0.0.1", "[::1]"]
    assert allowed_hosts(SDHOST_DATA_DIR=str(tmp_path), SDHOST_HOST="192.168.1.20",
                         SDHOST_ALLOWED_HOSTS="sd.lan, .example.org") == [
        "localhost", "127.0.0.1", "[::1]", "192.168.1.20", "sd.lan", ".example.org"]
    assert "testserver" not in allowed_hosts(SDHOST_DATA_DIR=str(tmp_path), SDHOST_HOST="::1")


def test_live_server_refuses_a_rebinding_host_for_static_files(live_url):
    """Static files are served before the middleware; they refuse other Host names too (issue 23, item 11)."""
    for path in ("/static/ui/api.js", "/static/admin/css/base.css", "/static/no-such-file.js"):
        response = requests.get(f"{live_url}{path}", headers={"Host": "evil.example"}, timeout=10)
        assert response.status_code == 400, path
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "SDHOST_ALLOWED_HOSTS" in response.text
    served = requests.get(f"{live_url}/static/ui/api.js", headers={"Host": "localhost"}, timeout=10)
    assert served.status_code == 200 and "export async function api" in served.text
