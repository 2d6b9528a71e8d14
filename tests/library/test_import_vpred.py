"""SDXL v-prediction / zero terminal SNR at import (the checkpoint's `v_pred` / `ztsnr` keys, a `.yaml` sidecar with
`parameterization: v`), stored as the metadata keys the render reads, changed and validated through D3; Flux and
SD 3.5 checkpoints refused at submission; batch signatures follow the prediction settings."""

import pytest

from engine.tiny_models import write_model_file
from models_app.services import import_model_file
from tasks_app.models import Task
from tasks_app.render_requests import model_file
from tests.support.api import assert_error
from tests.support.factories import make_model

pytestmark = pytest.mark.django_db

VPRED = {"prediction_type": "v_prediction", "zero_terminal_snr": True}


def test_import_reads_the_v_pred_and_ztsnr_keys(tmp_path):
    model, created = import_model_file(write_model_file(tmp_path / "noob-vpred.safetensors", arch="sdxl-vpred"))
    assert created and model.base_model == "SDXL" and model.model_type == "checkpoint"
    assert model.metadata == VPRED
    engine_file = model_file(model)
    assert (engine_file.prediction_type, engine_file.zero_terminal_snr) == ("v_prediction", True)


def test_a_plain_checkpoint_has_no_prediction_metadata(tmp_path):
    model, _ = import_model_file(write_model_file(tmp_path / "plain.safetensors", arch="sdxl"))
    assert model.metadata == {}
    assert (model_file(model).prediction_type, model_file(model).zero_terminal_snr) == (None, None)


def test_a_yaml_sidecar_with_parameterization_v(tmp_path):
    path = write_model_file(tmp_path / "merge.safetensors", arch="sdxl", seed=5)
    (tmp_path / "merge.yaml").write_text("model:\n  params:\n    parameterization: \"v\"\n")
    model, _ = import_model_file(path)
    assert model.metadata == {"prediction_type": "v_prediction", "zero_terminal_snr": False}


@pytest.mark.parametrize("body, pointer", [
    ({"prediction_type": "v"}, "/prediction_type"),
    ({"prediction_type": 1}, "/prediction_type"),
    ({"zero_terminal_snr": "yes"}, "/zero_terminal_snr"),
])
def test_d3_validates_the_prediction_keys(api, body, pointer):
    model = make_model(metadata={"note": "kept"})
    assert_error(api.post_json(f"/api/models/{model.hash}", body), 400, "invalid_request", pointer=pointer)
    model.refresh_from_db()
    assert model.metadata == {"note": "kept"}


def test_d3_sets_and_clears_the_prediction_keys(api):
    model = make_model()
    assert api.post_json(f"/api/models/{model.hash}", VPRED).status_code == 200
    model.refresh_from_db()
    assert model.metadata == VPRED
    assert api.post_json(f"/api/models/{model.hash}", {"prediction_type": None, "zero_terminal_snr": None}) \
        .status_code == 200
    model.refresh_from_db()
    assert model.metadata == {}


@pytest.mark.parametrize("base", ["Flux.1 D", "Flux.1 S", "SD 3.5 Medium", "SD 3.5 Large"])
def test_a_flux_or_sd35_checkpoint_is_refused_at_submission(api, base):
    model = make_model(base_model=base)
    response = api.post_json("/api/tasks", {"checkpoint_hash": model.hash, "prompt": "a fox"})
    assert_error(response, 400, "invalid_request", pointer="/checkpoint_hash")
    assert base in response.json()["errors"][0]["detail"]
    assert "not render yet" in response.json()["errors"][0]["detail"]
    assert not Task.objects.exists()


def test_batch_signatures_differ_across_prediction_settings(api, tmp_path):
    model, _ = import_model_file(write_model_file(tmp_path / "noob.safetensors", arch="sdxl-vpred"))
    body = {"checkpoint_hash": model.hash, "prompt": "a fox", "width": 64, "height": 64, "steps": 2}
    first = api.post_json("/api/tasks", body).json()["task_id"]
    assert api.post_json(f"/api/models/{model.hash}", {"prediction_type": "epsilon"}).status_code == 200
    second = api.post_json("/api/tasks", {**body, "prompt": "a hare"}).json()["task_id"]
    third = api.post_json("/api/tasks", {**body, "prompt": "a cat"}).json()["task_id"]
    signatures = [Task.objects.get(id=task_id).batch_signature for task_id in (first, second, third)]
    assert None not in signatures
    assert signatures[0] != signatures[1] == signatures[2]
