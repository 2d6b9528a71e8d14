"""Civitai import building blocks: mapping, formatting, and the downloader against the fake server."""

import hashlib

import pytest
import requests

from core.errors import APIError
from models_app.civitai import manager
from models_app.civitai.downloader import Download, DownloadFailed
from models_app.civitai.hashing import HashingWriter
from models_app.civitai.mapping import html_to_markdown, map_base_model, map_model_type, parse_id
from tests.support.civitai import DATA, SHA, prepare_interrupted_import, wait_final
from tests.support.fake_civitai import FakeCivitai


def test_type_and_base_model_mapping():
    assert [map_model_type(t) for t in ("Checkpoint", "LORA", "LoCon", "DoRA", "TextualInversion", "VAE", "Controlnet")] \
        == ["checkpoint", "lora", "lora", "lora", "embedding", "vae", "controlnet"]
    assert map_model_type("Poses") is None and map_model_type("checkpoint") is None
    assert [map_base_model(b) for b in ("SD 1.5", "SDXL 1.0", "SD 2.1", "Flux.1 D", None)] \
        == ["SD1.5", "SDXL", "SD2.1", "Flux.1 D", None]


@pytest.mark.parametrize("civitai, stored", [
    ("Pony", "SDXL"), ("Illustrious", "SDXL"), ("NoobAI", "SDXL"), ("SDXL Lightning", "SDXL"),
    ("SDXL Turbo", "SDXL"), ("SDXL Hyper", "SDXL"),
    ("Flux.1 D", "Flux.1 D"), ("Flux.1 S", "Flux.1 S"), ("SD 3.5 Medium", "SD 3.5 Medium"),
    ("SD 3.5 Large", "SD 3.5 Large"), ("Other", "Other"), ("", None),
])
def test_sdxl_derivatives_are_sdxl_and_new_families_keep_their_label(civitai, stored):
    assert map_base_model(civitai) == stored


def test_html_descriptions_become_markdown():
    html = '<h2>Usage</h2><p>CFG <b>5-8</b>, see <a href="https://x.test/a">notes</a>.</p><ul><li>one</li></ul><script>x()</script>'
    assert html_to_markdown(html) == "## Usage\n\nCFG **5-8**, see [notes](https://x.test/a).\n\n- one"
    assert html_to_markdown("") is None and html_to_markdown(None) is None


def test_parse_id():
    assert parse_id("10391", "model_id") == 10391 and parse_id(7, "model_id") == 7
    assert parse_id(None, "version_id", required=False) is None
    assert parse_id(" 007 ", "model_id") == 7 and parse_id(str(2**63 - 1), "model_id") == 2**63 - 1
    # "²" and "1" * 4301 passed isdigit() and then failed int(): a 500 (#23 item 6); "٣" is a digit int() reads
    assert parse_id(10391.0, "model_id") == 10391  # the integer 10391 in JSON Schema (OpenAPI 3.1)
    for bad in (None, "", "0", "-1", "1e3", True, 2.5, 1e30, [1], "²", "1²", "١٢", "1" * 4301, str(2**63), 2**63, "1\n2"):
        with pytest.raises(APIError) as caught:
            parse_id(bad, "model_id")
        assert caught.value.status == 400 and caught.value.pointer == "/model_id"


def test_progress_event_formatting():
    assert manager.progress_event(384, 1000, 4.1 * 1024 * 1024) == {
        "status": "downloading", "progress": 38.4, "speed": "4.1MB/s", "eta": "00:00:00"}
    assert manager.progress_event(0, 0) == {"status": "downloading", "progress": 0.0, "speed": "0B/s", "eta": "00:00:00"}
    assert manager.progress_event(1, 3, 512)["progress"] == 33.3
    assert manager.format_speed(2.34 * 1024 ** 3) == "2.3GB/s" and manager.format_speed(1536) == "1.5KB/s"
    assert manager.format_eta(3 * 3600 + 2 * 60 + 30.4) == "03:02:30"
    assert manager.format_eta(150 * 3600) == "150:00:00"


def test_partial_file_is_locked_against_a_second_writer(tmp_path):
    with HashingWriter(tmp_path / "x.part") as writer:
        writer.write(b"abc")
        with pytest.raises(BlockingIOError):
            HashingWriter(tmp_path / "x.part")
        assert writer.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    with HashingWriter(tmp_path / "x.part") as again:  # reopening re-hashes what is there
        assert again.size == 3
        again.write(b"def")
        assert again.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_complete_partial_file_is_verified_without_fetching_again(tmp_path):
    with FakeCivitai() as fake:
        fake.add_model(1, "m")
        fake.add_version(1, 2, DATA)
        part = tmp_path / "m.part"
        part.write_bytes(DATA)
        download = Download(requests.Session(), f"{fake.base_url}/api/download/models/2", part, SHA)
        result = download.run()
        assert (result.size, result.sha256) == (len(DATA), SHA)
        assert [r["range"] for r in fake.file_requests] == [f"bytes={len(DATA)}-"]
        assert fake.bytes_served == 0 and download.fetched == 0


def test_giving_up_on_the_network_keeps_the_partial_file(tmp_path):
    fake = FakeCivitai().start()
    fake.add_model(1, "m")
    fake.add_version(1, 2, DATA)
    url = f"{fake.base_url}/api/download/models/2"
    fake.stop()
    part = tmp_path / "m.part"
    part.write_bytes(DATA[:1000])
    download = Download(requests.Session(), url, part, SHA, retries=2, backoff=0.01)
    with pytest.raises(DownloadFailed) as caught:
        download.run()
    assert caught.value.keep_partial and "after 3 attempts" in str(caught.value)
    assert part.read_bytes() == DATA[:1000]


def test_a_failed_import_resumes_from_its_partial_data(client, civitai):
    """D29: repeating a failed import continues from the data already there."""
    prepare_interrupted_import(civitai, 1_500_000)
    manager.SDModel.objects.filter(pk=SHA).update(status="failed", error_message="Download failed after 7 attempts")
    response = client.post_json("/api/models/add-from-civitai", {"model_id": 10391})
    assert response.status_code == 202
    model = wait_final(SHA)
    assert model.status == "ready" and model.error_message is None
    assert [r["range"] for r in civitai.file_requests] == ["bytes=1500000-"]
    assert civitai.bytes_served == len(DATA) - 1_500_000
