"""The model folders the server watches (#24 item 2): SDHOST_MODEL_ROOTS (both forms, a bad root refused at
start-up), POST /api/models/scan scanning the configured roots in place with SSE progress (real server), one scan
at a time, and paths from the network refused."""

import io
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings
from django.core.management import call_command

from models_app import roots
from models_app.models import SDModel
from models_app.sidecars import FolderHint, folder_hint
from sdhost.model_roots import BadModelRoots, parse_model_roots
from tests.support.api import ApiClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)  # the scan runs in a thread with its own connection

URL = "/api/models/scan"


def make(path, kind="checkpoint", seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    call_command("make_test_checkpoint", str(path), "--kind", kind, "--seed", str(seed), stdout=io.StringIO())
    return path


@pytest.fixture
def client():
    return ApiClient()


def wait_idle(timeout=60):
    deadline = time.monotonic() + timeout
    while roots.scanner.running():
        assert time.monotonic() < deadline, "the scan did not finish"
        time.sleep(0.02)
    return roots.scanner.state()


@pytest.fixture
def two_roots(tmp_path, settings):
    a1111 = tmp_path / "webui" / "models"
    comfy = tmp_path / "comfy:ui" / "models"  # a colon in the path
    files = [
        make(a1111 / "Stable-diffusion/dreamy.safetensors", seed=1),
        make(a1111 / "Lora/style.safetensors", "lora", seed=2),
        make(comfy / "loras/other.safetensors", "lora", seed=3),
        make(comfy / "vae/clear.safetensors", "vae", seed=4),
    ]
    (comfy / "loras/notes.bin").write_bytes(b"not a model")
    settings.SDHOST = {**settings.SDHOST, "MODEL_ROOTS": parse_model_roots(f"{a1111}:a1111,{comfy}:comfyui")}
    return files


def test_plain_and_json_forms(tmp_path):
    odd = tmp_path / "a:b"
    odd.mkdir()
    hinted = tmp_path / "x:a1111"
    hinted.mkdir()
    assert parse_model_roots(f" {odd} , {tmp_path}:ComfyUI,") == [
        {"path": str(odd), "layout": None}, {"path": str(tmp_path), "layout": "comfyui"}]
    assert parse_model_roots(json.dumps([str(hinted), {"path": str(odd), "layout": "invokeai"}])) == [
        {"path": str(hinted), "layout": None}, {"path": str(odd), "layout": "invokeai"}]
    assert parse_model_roots("") == [] and parse_model_roots(None) == []
    for bad, why in [(str(tmp_path / "nope"), "does not exist"), ("relative/models", "not an absolute path"),
                     ("[1]", "each JSON entry"), ("[", "not valid JSON"),
                     (json.dumps([{"path": str(odd), "layout": "webui"}]), "not one of")]:
        with pytest.raises(BadModelRoots, match=why):
            parse_model_roots(bad)
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(BadModelRoots, match="is not a folder"):
        parse_model_roots(str(file))


def test_a_bad_root_is_a_one_line_error_at_start_up(tmp_path):
    env = {**os.environ, "SDHOST_DATA_DIR": str(tmp_path / "data"), "SDHOST_MODEL_ROOTS": f"{tmp_path}/gone:a1111"}
    done = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=settings.BASE_DIR)
    assert done.returncode != 0
    assert done.stderr.strip() == f"SDHOST_MODEL_ROOTS: '{tmp_path}/gone' is not a folder (it does not exist)"


def test_layout_hint_keeps_to_that_hosts_folder_names():
    assert folder_hint("/m/loras/x.safetensors") == FolderHint("lora")
    assert folder_hint("/m/loras/x.safetensors", "a1111") == FolderHint()  # ComfyUI's name: the header decides
    assert folder_hint("/m/Lora/x.safetensors", "a1111") == FolderHint("lora")
    assert folder_hint("/m/sdxl/lora/x.safetensors", "comfyui") == FolderHint()
    assert folder_hint("/m/sdxl/lora/x.safetensors", "invokeai") == FolderHint("lora", "SDXL")


def test_scan_registers_the_roots_in_place_with_sse_progress(two_roots, live_url):
    started = requests.post(live_url + URL, timeout=30)
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["tracking_url"] == "/api/models/scan/events" and len(body["roots"]) == 2
    with requests.get(live_url + body["tracking_url"], stream=True, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines = list(response.iter_lines())
    events = [json.loads(line[6:]) for line in lines if line.startswith(b"data: ")]
    assert sum(line.startswith(b"id: ") for line in lines) == len(events)
    final = events[-1]
    assert final["status"] == "completed" and final["scan"] == body["scan"]
    assert {k: final[k] for k in ("roots", "files", "imported", "skipped")} == {
        "roots": 2, "files": 5, "imported": 4, "skipped": 1}  # notes.bin: a weights name, not a model
    assert final["skipped_files"][0]["path"].endswith("notes.bin")
    assert all(e["status"] == "scanning" and e["scan"] == body["scan"] for e in events[:-1])
    models = {m.local_path: m.model_type for m in SDModel.objects.all()}
    assert models == {str(two_roots[0]): "checkpoint", str(two_roots[1]): "lora", str(two_roots[2]): "lora",
                      str(two_roots[3]): "vae"}  # in place, where they lie
    # a client that comes late gets the final event at once; a rescan costs a stat per file
    late = requests.get(live_url + body["tracking_url"], timeout=30)
    assert json.loads(late.text.split("data: ", 1)[1]) == final
    again = requests.post(live_url + URL, json={}, timeout=30)
    assert again.status_code == 202 and again.json()["status_url"] == URL
    final = wait_idle()
    assert (final["imported"], final["known"], final["hashed"]) == (0, 4, 0)
    status = requests.get(live_url + URL, timeout=30).json()
    assert status["state"] == final and status["scan_on_start"] is False
    assert [root["layout"] for root in status["roots"]] == ["a1111", "comfyui"]


def test_one_scan_at_a_time(tmp_path, settings, client):
    root = tmp_path / "models"
    root.mkdir()
    with open(root / "big.safetensors", "wb") as f:  # sparse: hashing it keeps the scan busy for a while
        f.truncate(512 * 1024 * 1024)
    settings.SDHOST = {**settings.SDHOST, "MODEL_ROOTS": parse_model_roots(str(root))}
    assert client.post_json(URL).status_code == 202
    assert_error(client.post_json(URL), 409, "scan_running")
    final = wait_idle()
    assert final["status"] == "completed" and final["skipped"] == 1  # hashed, then refused: not a model


def test_paths_from_the_network_are_refused(tmp_path, settings, client):
    victim = make(tmp_path / "elsewhere/Lora/x.safetensors", "lora")
    settings.SDHOST = {**settings.SDHOST, "MODEL_ROOTS": parse_model_roots(str(tmp_path / "elsewhere"))}
    before = roots.scanner.state()
    for body in ({"path": str(victim.parent)}, {"paths": [str(victim)]}, {"roots": [str(tmp_path)]}):
        key = next(iter(body))
        assert_error(client.post_json(URL, body), 400, "invalid_request", pointer=f"/{key}")
    assert_error(client.post_json(URL, [str(victim)]), 400, "invalid_request")
    assert roots.scanner.state() == before and not SDModel.objects.exists()  # nothing scanned


def test_no_roots_configured(settings, client):
    settings.SDHOST = {**settings.SDHOST, "MODEL_ROOTS": []}
    assert_error(client.post_json(URL), 409, "no_model_roots")


def test_the_progress_stream_answers_get_only(client):
    response = client.post_json("/api/models/scan/events")
    assert_error(response, 405, "method_not_allowed")


def test_serve_scans_the_roots_at_start_when_asked(tmp_path):
    model = make(tmp_path / "roots/Lora/style.safetensors", "lora", seed=9)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SDHOST_DATA_DIR": str(tmp_path / "data"), "SDHOST_AUTO_DOWNLOAD": "0",
           "SDHOST_LOG_LEVEL": "WARNING", "SDHOST_MODEL_ROOTS": f"{tmp_path / 'roots'}:a1111",
           "SDHOST_SCAN_ON_START": "1"}
    env.pop("SDHOST_DATABASE_PATH", None)
    process = subprocess.Popen([sys.executable, "manage.py", "serve", "--no-worker", "--port", str(port)],
                               cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline and process.poll() is None, "the root was not scanned"
            try:
                found = requests.get(f"http://127.0.0.1:{port}/api/models", timeout=5).json()["data"]
            except (requests.ConnectionError, ValueError):
                found = []
            if found:
                break
            time.sleep(0.2)
        assert [(m["attributes"]["name"], m["attributes"]["model_type"]) for m in found] == [("style", "lora")]
        assert not (tmp_path / "data/models").exists() or not any((tmp_path / "data/models").rglob("*.safetensors"))
        assert model.exists()
    finally:
        process.terminate()
        process.wait(30)
