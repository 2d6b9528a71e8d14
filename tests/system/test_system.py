import os

import pytest
import torch

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


def meminfo_total_gb():
    with open("/proc/meminfo") as meminfo:
        kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return kib / 1024**2


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="reads the machine's RAM from Linux's /proc/meminfo")
def test_config_reports_ram_and_the_generation_devices_memory(api):
    """Issue 22 item 17: `memory_gb` was 0 on a CPU machine. It is the generation device's memory (system RAM on the
    CPU, the GPU's on CUDA); `ram_gb` is the machine's RAM, `vram_gb` the GPU's (null without one)."""
    hardware = api.get("/api/config").json()["hardware"]
    assert abs(hardware["ram_gb"] - meminfo_total_gb()) <= 0.1
    if hardware["gpu_count"]:
        assert hardware["vram_gb"] == round(torch.cuda.get_device_properties(0).total_memory / 1024**3, 1)
    else:
        assert hardware["vram_gb"] is None
    expected = hardware["vram_gb"] if hardware["device"] == "cuda" else hardware["ram_gb"]
    assert hardware["memory_gb"] == expected > 0
