"""Civitai by hash (#24 item 3): models without Civitai data looked up with GET
/api/v1/model-versions/by-hash/{sha256} on the fake Civitai (real sockets on 127.0.0.1), through
`manage.py civitai_sync`, POST /api/models/{hash}/civitai-sync and the batch form."""

import io

import pytest
from django.core.management import CommandError, call_command

from models_app.civitai import sync
from models_app.models import SDModel
from tests.support.api import assert_error
from tests.support.fake_civitai import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)  # the batch runs in a thread with its own connection

BY_HASH = "/api/v1/model-versions/by-hash/"


def make(path, kind="lora", seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    call_command("make_test_checkpoint", str(path), "--kind", kind, "--seed", str(seed), stdout=io.StringIO())
    return path


def import_in_place(path) -> SDModel:
    call_command("import_model", "--in-place", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    return SDModel.objects.get(local_path=str(path))


def run(*args):
    out = io.StringIO()
    call_command("civitai_sync", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def lookups(civitai):
    return [r for r in civitai.api_requests if r["path"].startswith(BY_HASH)]


@pytest.fixture
def known(tmp_path, civitai):
    """A LoRA lying in an A1111 folder that Civitai knows (model 20000, version 20001, with a preview)."""
    path = make(tmp_path / "webui/models/Lora/inkStyle_v2.safetensors", seed=11)
    civitai.add_model(20000, "Ink Style", type="LORA", description="<p>Soft <b>ink</b> strokes.</p>",
                      tags=["ink", "style", "a-very-long-tag-name-over-20"])
    civitai.add_version(20000, 20001, path.read_bytes(), name="v2", base_model="SD 1.5",
                        trained_words=["inkwash"], file_name=path.name, preview=png_bytes((10, 200, 10)))
    model = import_in_place(path)
    assert "civitai" not in model.metadata and model.cover_image_id is None
    civitai.api_requests.clear()
    return model


def test_sync_fills_in_name_description_base_tags_words_ids_and_cover(known, civitai, client):
    assert known.name == "inkStyle_v2"  # the file's stem: Civitai's name replaces it
    out = run(known.hash)
    assert "synced: 1" in out
    model = SDModel.objects.get(pk=known.hash)
    assert model.name == "Ink Style v2"
    assert model.description == "Soft **ink** strokes."
    assert model.base_model == "SD1.5"
    assert model.metadata["civitai"] == {"model_id": 20000, "version_id": 20001}
    assert model.metadata["trigger_words"] == ["inkwash"]
    assert model.metadata["civitai_tags"] == ["ink", "style", "a-very-long-tag-name-over-20"]
    assert sorted(model.tags.values_list("name", flat=True)) == ["ink", "style"]  # D29: long ones in metadata only
    assert model.source_url == "https://civitai.com/models/20000?modelVersionId=20001"
    assert model.metadata["civitai_sync"]["state"] == "synced"
    assert model.cover_image is not None  # stored in the image library, like a Civitai import's cover
    assert client.get(f"/api/images/{model.cover_image_id}").status_code == 200
    assert [r["path"] for r in lookups(civitai)] == [BY_HASH + known.hash]
    # synced: `--all` looks it up no more
    civitai.api_requests.clear()
    assert run("--all") == "nothing to sync\n"
    assert lookups(civitai) == []


def test_a_name_the_user_gave_is_kept(known, civitai):
    SDModel.objects.filter(pk=known.hash).update(name="My ink", description="mine")
    run(known.hash)
    model = SDModel.objects.get(pk=known.hash)
    assert (model.name, model.description) == ("My ink", "mine")
    assert model.metadata["civitai"]["version_id"] == 20001


def test_offline_is_recorded_and_retried_later(known, civitai):
    civitai.stop()  # connection refused
    assert "offline: 1" in run("--all")
    model = SDModel.objects.get(pk=known.hash)
    assert model.metadata["civitai_sync"]["state"] == "offline"
    assert "unreachable" in model.metadata["civitai_sync"]["detail"]
    assert model.name == "inkStyle_v2" and "civitai" not in model.metadata  # nothing else changed
    civitai.start()
    civitai.api_status = 503  # a 5xx is offline too
    assert "offline: 1" in run("--all")
    civitai.api_status = None
    assert "synced: 1" in run("--all")  # the next run picks it up again
    assert SDModel.objects.get(pk=known.hash).metadata["civitai"]["model_id"] == 20000


def test_a_refused_lookup_is_recorded_failed_with_why_and_retried(known, civitai):
    civitai.token, civitai.token_for = "s3cret", {"api"}  # Civitai wants a token this server was not given
    assert "failed: 1" in run("--all")
    state = SDModel.objects.get(pk=known.hash).metadata["civitai_sync"]
    assert state["state"] == "failed" and "SDHOST_CIVITAI_TOKEN" in state["detail"]
    civitai.token = None
    assert "synced: 1" in run("--all")


def test_unknown_file_is_recorded_not_found_and_not_retried_by_default(tmp_path, civitai):
    model = import_in_place(make(tmp_path / "loras/private.safetensors", seed=12))
    civitai.api_requests.clear()
    assert "not_found: 1" in run("--all")
    assert SDModel.objects.get(pk=model.hash).metadata["civitai_sync"]["state"] == "not_found"
    assert len(lookups(civitai)) == 1
    assert run("--all") == "nothing to sync\n"
    assert len(lookups(civitai)) == 1
    assert "not_found: 1" in run("--all", "--retry-not-found")
    assert len(lookups(civitai)) == 2


def test_lookups_keep_to_the_rate_limit(tmp_path, civitai, settings):
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_SYNC_RATE": 5}
    for seed in range(3):
        import_in_place(make(tmp_path / f"loras/m{seed}.safetensors", seed=20 + seed))
    civitai.api_requests.clear()
    assert "not_found: 3" in run("--all")
    arrivals = [r["at"] for r in lookups(civitai)]
    assert len(arrivals) == 3  # one lookup per model
    # a request starts 1/rate s after the previous answer arrived: the server saw them at least that far apart
    assert all(later - earlier >= 0.2 for earlier, later in zip(arrivals, arrivals[1:])), arrivals


def test_command_refuses_bad_arguments(civitai):
    with pytest.raises(CommandError, match="hashes or --all"):
        run()
    with pytest.raises(CommandError, match="No model"):
        run("0" * 64)


def test_api_syncs_one_model(known, civitai, client):
    response = client.post_json(f"/api/models/{known.hash}/civitai-sync")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["meta"]["civitai_sync"]["state"] == "synced"
    assert body["data"]["id"] == known.hash and body["data"]["attributes"]["name"] == "Ink Style v2"
    assert_error(client.post_json(f"/api/models/{'0' * 64}/civitai-sync"), 404, "not_found")
    assert_error(client.post_json(f"/api/models/{known.hash}/civitai-sync", {"path": "/etc"}), 400,
                 "invalid_request", pointer="/path")
    civitai.stop()
    other = client.post_json(f"/api/models/{known.hash}/civitai-sync")  # has Civitai data now: no lookup, its state
    assert other.status_code == 200 and other.json()["meta"]["civitai_sync"]["state"] == "synced"


def test_api_offline_is_a_state_not_an_error(known, civitai, client):
    civitai.stop()
    response = client.post_json(f"/api/models/{known.hash}/civitai-sync")
    assert response.status_code == 200, response.content
    assert response.json()["meta"]["civitai_sync"]["state"] == "offline"


def test_api_batch_syncs_all_without_civitai_data(known, civitai, client):
    response = client.post_json("/api/models/civitai-sync", {"all": True})
    assert response.status_code == 202, response.content
    assert response.json() == {"queued": 1, "hashes": [known.hash]}
    sync.batch.wait(30)
    assert SDModel.objects.get(pk=known.hash).metadata["civitai_sync"]["state"] == "synced"
    nothing = client.post_json("/api/models/civitai-sync", {"all": True})
    assert nothing.status_code == 200 and nothing.json() == {"queued": 0, "hashes": []}


def test_api_batch_by_hashes_and_bad_bodies(known, civitai, client):
    assert_error(client.post_json("/api/models/civitai-sync", {}), 400, "invalid_request", pointer="/hashes")
    assert_error(client.post_json("/api/models/civitai-sync", {"hashes": ["nope"]}), 400, "invalid_request",
                 pointer="/hashes")
    assert_error(client.post_json("/api/models/civitai-sync", {"hashes": [known.hash], "all": True}), 400,
                 "invalid_request")
    assert_error(client.post_json("/api/models/civitai-sync", {"path": "/etc"}), 400, "invalid_request",
                 pointer="/path")
    assert_error(client.post_json("/api/models/civitai-sync", {"hashes": ["1" * 64]}), 404, "not_found")
    response = client.post_json("/api/models/civitai-sync", {"hashes": [known.hash]})
    assert response.status_code == 202
    sync.batch.wait(30)
    assert SDModel.objects.get(pk=known.hash).metadata["civitai_sync"]["state"] == "synced"


def test_sync_is_refused_while_civitai_is_disabled(known, civitai, client, settings):
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_ENABLED": False}
    assert_error(client.post_json(f"/api/models/{known.hash}/civitai-sync"), 403, "feature_disabled")
    with pytest.raises(CommandError, match="disabled"):
        run("--all")
