"""Civitai import through the API against a real fake Civitai server (tests/fake_civitai.py)."""

import hashlib
import io
import os
import time

import pytest
import torch

from images_app.models import Image
from models_app.civitai import manager
from models_app.models import CivitaiImport, SDModel
from models_app.storage import model_file_path
from tests.support.api import assert_error
from tests.support.civitai import DATA, SHA, URL, prepare_interrupted_import, wait_final, wait_for
from tests.support.fake_civitai import png_bytes


def test_import_creates_the_row_at_once_then_downloads_verifies_and_stores(client, civitai):
    civitai.throttle_bps = 8 * 1024 * 1024
    response = client.post_json(URL, {"model_id": "10391", "version_id": 88214})
    assert response.status_code == 202, response.content
    assert response.json() == {"hash": SHA, "status": "downloading", "tracking_url": f"{URL}/{SHA}"}

    model = SDModel.objects.get(pk=SHA)
    assert model.name == "Dreamlike Valley v3"
    assert model.model_type == "checkpoint" and model.base_model == "SDXL"
    assert model.size == round(len(DATA) / 1024 * 1024)
    assert model.source_url == f"{civitai.base_url}/models/10391?modelVersionId=88214"
    assert model.description == "# Dreamlike Valley\n\nSoft **light**."
    assert model.metadata == {
        "trigger_words": ["dlvalley"],
        "civitai": {"model_id": 10391, "version_id": 88214, "file_name": "dreamlikeValley_v3.safetensors"},
        "civitai_tags": ["scenery", "painterly", "a-very-long-tag-name-over-20"],
    }
    assert sorted(t.name for t in model.tags.all()) == ["painterly", "scenery"]
    cover = Image.objects.get(pk=hashlib.sha256(png_bytes()).hexdigest())
    assert model.cover_image_id == cover.hash

    model = wait_final(SHA)
    assert model.status == "ready", model.error_message
    assert model.error_message is None
    assert model.size == len(DATA) and model.file_ext == ".safetensors"
    assert model_file_path(model).read_bytes() == DATA
    assert not manager.part_path(SHA).exists()
    assert CivitaiImport.objects.get(pk=SHA).bytes_done == len(DATA)
    assert civitai.bytes_served == len(DATA)

    content = client.get(f"/api/models/{SHA}/content")
    if content.status_code != 404:  # the content action (another part of the API) is in place
        assert content.status_code == 200
        assert b"".join(content.streaming_content) == DATA


def test_repeated_request_is_idempotent(client, civitai):
    civitai.throttle_bps = 4 * 1024 * 1024
    first = client.post_json(URL, {"model_id": 10391})
    assert first.status_code == 202
    again = client.post_json(URL, {"model_id": 10391, "version_id": "88214"})
    assert again.status_code == 200
    assert again.json() == {"hash": SHA, "status": "downloading", "tracking_url": f"{URL}/{SHA}"}
    wait_final(SHA)
    done = client.post_json(URL, {"model_id": 10391})
    assert done.status_code == 200 and done.json()["status"] == "ready"
    assert SDModel.objects.count() == 1
    assert len(civitai.file_requests) == 1


def test_latest_version_is_the_default(client, civitai):
    newer = os.urandom(4096)
    civitai.add_version(10391, 99001, newer, name="v4", base_model="SD 1.5")
    response = client.post_json(URL, {"model_id": 10391})
    assert response.status_code == 202
    model = wait_final(hashlib.sha256(newer).hexdigest())
    assert model.status == "ready" and model.base_model == "SD1.5"
    assert model.metadata["civitai"]["version_id"] == 99001


@pytest.mark.parametrize(("civitai_type", "model_type"), [
    ("Checkpoint", "checkpoint"), ("LORA", "lora"), ("LoCon", "lora"), ("DoRA", "lora"),
    ("TextualInversion", "embedding"), ("VAE", "vae"), ("Controlnet", "controlnet"),
])
def test_catalogue_types_map_to_model_types(client, civitai, civitai_type, model_type):
    buffer = io.BytesIO()
    torch.save({civitai_type: torch.zeros(2)}, buffer)  # a real weights pickle: .pt downloads are inspected
    data = buffer.getvalue()
    civitai.add_model(500, "Typed", type=civitai_type)
    civitai.add_version(500, 501, data, base_model="SD 2.1", file_name="typed.PT")
    response = client.post_json(URL, {"model_id": 500})
    assert response.status_code == 202
    model = wait_final(hashlib.sha256(data).hexdigest())
    assert (model.model_type, model.base_model, model.file_ext, model.status) == (model_type, "SD2.1", ".pt", "ready")


def test_other_base_models_are_kept_as_given(client, civitai):
    civitai.add_model(600, "Flux thing", type="LORA")
    civitai.add_version(600, 601, b"flux" * 100, base_model="Flux.1 D")
    client.post_json(URL, {"model_id": 600})
    assert SDModel.objects.get(pk=hashlib.sha256(b"flux" * 100).hexdigest()).base_model == "Flux.1 D"


def test_sdxl_derivatives_are_imported_as_sdxl(client, civitai):
    civitai.add_model(610, "Pony thing", type="LORA")
    civitai.add_version(610, 611, b"pony" * 100, base_model="Pony")
    client.post_json(URL, {"model_id": 610})
    assert SDModel.objects.get(pk=hashlib.sha256(b"pony" * 100).hexdigest()).base_model == "SDXL"


def test_unsupported_type_is_400_and_creates_nothing(client, civitai):
    civitai.add_model(700, "A pose pack", type="Poses")
    civitai.add_version(700, 701, b"poses")
    error = assert_error(client.post_json(URL, {"model_id": 700}), 400, "invalid_request", pointer="/model_id")
    assert "Poses" in error["detail"]
    assert SDModel.objects.count() == 0 and not civitai.file_requests


@pytest.mark.parametrize(("body", "pointer"), [
    ({}, "/model_id"),
    ({"model_id": None}, "/model_id"),
    ({"model_id": "abc"}, "/model_id"),
    ({"model_id": True}, "/model_id"),
    ({"model_id": -4}, "/model_id"),
    ({"model_id": 1.5}, "/model_id"),
    ({"model_id": 10391, "version_id": "x1"}, "/version_id"),
    ({"model_id": 10391, "version_id": [1]}, "/version_id"),
])
def test_invalid_ids_are_400(client, civitai, body, pointer):
    assert_error(client.post_json(URL, body), 400, "invalid_request", pointer=pointer)
    assert not civitai.api_requests


def test_body_must_be_a_json_object(client, civitai):
    assert_error(client.post_json(URL, [10391]), 400, "invalid_request")
    assert_error(client.post_json(URL, "{not json"), 400, "invalid_request")


def test_version_of_another_model_is_400(client, civitai):
    civitai.add_model(800, "Other")
    civitai.add_version(800, 801, b"other")
    assert_error(client.post_json(URL, {"model_id": 10391, "version_id": 801}), 400, "invalid_request",
                 pointer="/version_id")


def test_unknown_model_or_version_is_404(client, civitai):
    assert_error(client.post_json(URL, {"model_id": 4242}), 404, "not_found")
    assert_error(client.post_json(URL, {"model_id": 10391, "version_id": 4242}), 404, "not_found")
    assert SDModel.objects.count() == 0


def test_catalogue_asking_for_a_token_is_502_naming_the_setting(client, civitai):
    civitai.token, civitai.token_for = "secret", {"api", "download"}
    error = assert_error(client.post_json(URL, {"model_id": 10391}), 502, "catalogue_unavailable")
    assert "SDHOST_CIVITAI_TOKEN" in error["detail"]


def test_token_is_sent_to_civitai_but_not_to_the_signed_host(client, civitai, settings):
    civitai.token, civitai.token_for = "secret", {"api", "download"}
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_TOKEN": "secret"}
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    assert wait_final(SHA).status == "ready"
    assert {r["authorization"] for r in civitai.api_requests} == {"Bearer secret"}
    assert [r["authorization"] for r in civitai.file_requests] == [None]


def test_download_needing_a_token_fails_with_the_reason_then_restarts_once_set(client, civitai, settings):
    civitai.token = "secret"  # only the download needs it
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    failed = wait_final(SHA)
    assert failed.status == "failed"
    assert "SDHOST_CIVITAI_TOKEN" in failed.error_message
    again = client.post_json(URL, {"model_id": 10391})  # D29: a failed import starts again...
    assert again.status_code == 202 and again.json()["status"] == "downloading"
    assert wait_final(SHA).status == "failed"
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_TOKEN": "secret"}
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    model = wait_final(SHA)
    assert model.status == "ready" and model.error_message is None
    assert model_file_path(model).read_bytes() == DATA


@pytest.mark.parametrize("problem", ["unreachable", "status", "json"])
def test_catalogue_failures_are_502(client, civitai, settings, problem):
    if problem == "unreachable":
        civitai.stop()
    elif problem == "status":
        civitai.api_status = 503
    else:
        civitai.api_invalid_json = True
    assert_error(client.post_json(URL, {"model_id": 10391}), 502, "catalogue_unavailable")
    assert SDModel.objects.count() == 0


def test_disabled_imports_are_403(client, civitai, settings):
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_ENABLED": False}
    assert_error(client.post_json(URL, {"model_id": 10391}), 403, "feature_disabled")
    assert not civitai.api_requests


def test_dropped_connection_resumes_with_range_fetching_only_the_rest(client, civitai):
    civitai.drop_after = [700_000]
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    model = wait_final(SHA)
    assert model.status == "ready", model.error_message
    assert model_file_path(model).read_bytes() == DATA
    assert [r["range"] for r in civitai.file_requests] == [None, "bytes=700000-"]
    assert civitai.file_requests[1]["if_range"] == '"v1"'
    assert civitai.bytes_served == len(DATA)


def test_server_ignoring_range_restarts_from_zero(client, civitai):
    civitai.drop_after = [700_000]
    civitai.ignore_range = True
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    model = wait_final(SHA)
    assert model.status == "ready", model.error_message
    assert model_file_path(model).read_bytes() == DATA
    assert civitai.bytes_served == 700_000 + len(DATA)


def test_civitai_restart_mid_download_resumes(client, civitai):
    civitai.throttle_bps = 2 * 1024 * 1024
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    part = manager.part_path(SHA)
    wait_for(lambda: part.exists() and part.stat().st_size > 300_000)
    civitai.stop()
    time.sleep(0.3)
    civitai.throttle_bps = None
    civitai.start()
    model = wait_final(SHA)
    assert model.status == "ready", model.error_message
    assert model_file_path(model).read_bytes() == DATA
    resumed_from = int(civitai.file_requests[-1]["range"].removeprefix("bytes=").rstrip("-"))
    assert resumed_from > 300_000


def test_sdhost_restart_resumes_from_the_partial_file(client, civitai):
    prepare_interrupted_import(civitai, 1_000_000)
    state = manager.import_state(SHA)
    assert state["status"] == "downloading" and state["progress"] == pytest.approx(100 * 1_000_000 / len(DATA), abs=0.1)
    assert manager.resume_pending_imports() == [SHA]
    model = wait_final(SHA)
    assert model.status == "ready", model.error_message
    assert model_file_path(model).read_bytes() == DATA
    assert civitai.file_requests == [{"range": "bytes=1000000-", "if_range": '"v1"', "authorization": None}]
    assert civitai.bytes_served == len(DATA) - 1_000_000


def test_changed_file_on_resume_restarts_from_zero(client, civitai):
    prepare_interrupted_import(civitai, 1_000_000)
    civitai.versions[88214].file.etag = '"v2"'
    manager.resume_pending_imports()
    model = wait_final(SHA)
    assert model.status == "ready", model.error_message
    assert civitai.bytes_served == len(DATA)
    assert model_file_path(model).read_bytes() == DATA


def test_wrong_hash_fails_and_removes_the_partial_file(client, civitai):
    stated = hashlib.sha256(b"something else").hexdigest()
    civitai.add_model(900, "Liar")
    civitai.add_version(900, 901, DATA, stated_sha256=stated)
    response = client.post_json(URL, {"model_id": 900})
    assert response.status_code == 202 and response.json()["hash"] == stated
    model = wait_final(stated)
    assert model.status == "failed"
    assert model.error_message.startswith("SHA256 mismatch")
    assert not manager.part_path(stated).exists()
    assert not model_file_path(model).exists()
    assert list((manager.part_path(stated).parent).iterdir()) == []


def test_broken_preview_does_not_fail_the_import(client, civitai):
    civitai.add_model(950, "No cover")
    civitai.add_version(950, 951, b"weights" * 100, preview=b"not an image")
    assert client.post_json(URL, {"model_id": 950}).status_code == 202
    model = wait_final(hashlib.sha256(b"weights" * 100).hexdigest())
    assert model.status == "ready" and model.cover_image is None


def test_cancel_import_stops_the_download_and_removes_the_partial_file(client, civitai):
    civitai.throttle_bps = 512 * 1024
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    part = manager.part_path(SHA)
    wait_for(lambda: part.exists() and part.stat().st_size > 0)
    assert manager.cancel_import(SHA) is True
    assert not manager.manager.is_active(SHA)
    assert not part.exists()
    served = civitai.bytes_served
    time.sleep(0.3)
    assert civitai.bytes_served - served < 200_000  # the connection is gone
    assert manager.cancel_import(SHA) is False


def test_imports_run_concurrently(client, civitai):
    other = os.urandom(1024 * 1024)
    civitai.add_model(1000, "Second")
    civitai.add_version(1000, 1001, other)
    civitai.throttle_bps = 1024 * 1024
    start = time.monotonic()
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    assert client.post_json(URL, {"model_id": 1000}).status_code == 202
    assert time.monotonic() - start < 1.0  # the API does not wait for downloads
    wait_for(lambda: len(civitai.file_requests) == 2, timeout=5)
    assert wait_final(SHA).status == "ready"
    assert wait_final(hashlib.sha256(other).hexdigest()).status == "ready"


def test_cancelling_a_queued_import_does_not_wait_for_its_turn(client, civitai, settings):
    settings.SDHOST = {**settings.SDHOST, "DOWNLOAD_CONCURRENCY": 1}
    other = os.urandom(100_000)
    civitai.add_model(1000, "Second")
    civitai.add_version(1000, 1001, other)
    civitai.throttle_bps = 256 * 1024
    assert client.post_json(URL, {"model_id": 10391}).status_code == 202
    assert client.post_json(URL, {"model_id": 1000}).status_code == 202
    queued = hashlib.sha256(other).hexdigest()
    wait_for(lambda: len(civitai.file_requests) == 1)
    start = time.monotonic()
    assert manager.cancel_import(queued) is True
    assert time.monotonic() - start < 1.0
    SDModel.objects.filter(pk=queued).delete()
    assert manager.cancel_import(SHA) is True
    wait_for(lambda: not manager.manager.active_hashes())
    assert len(civitai.file_requests) == 1  # the queued one never started


@pytest.mark.parametrize("body", [{"model_id": "²"}, {"model_id": "1" * 4301}, {"model_id": 5, "version_id": "²"}])
def test_odd_digit_strings_are_400_not_500(client, civitai, body):
    """isdigit() took them, int() refused them: a 500 (#23 item 6)."""
    pointer = "/version_id" if "version_id" in body else "/model_id"
    assert_error(client.post_json(URL, body), 400, "invalid_request", pointer=pointer)
    assert SDModel.objects.count() == 0 and not civitai.file_requests


def test_an_in_place_model_whose_file_is_gone_is_downloaded_into_the_store(client, civitai, tmp_path):
    gone = tmp_path / "gone.safetensors"
    SDModel.objects.create(hash=SHA, name="mine", model_type="checkpoint", size=len(DATA), status="missing",
                           local_path=str(gone))
    response = client.post_json(URL, {"model_id": 10391, "version_id": 88214})
    assert response.status_code == 202, response.content
    model = wait_final(SHA)
    assert (model.status, model.local_path, model.name) == ("ready", None, "mine")
    assert model_file_path(model).read_bytes() == DATA and not gone.exists()
