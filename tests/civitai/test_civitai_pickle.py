"""Pickle-format files from Civitai get import_model's weights-only inspection before entering the store
(issue 8, item 6): a file that would run code ends the import `failed` with the reason, and never runs."""

import io
import os
import pickle

import torch

from models_app.civitai import manager
from models_app.models import SDModel
from models_app.storage import model_file_path
from tests.support.civitai import URL, wait_final


class Evil:
    marker = None

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def ckpt_bytes(payload) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


STATE = {"state_dict": {"model.diffusion_model.x.weight": torch.zeros(2)}}


def test_malicious_pickle_from_civitai_fails_with_the_reason_and_never_runs(client, civitai, tmp_path):
    Evil.marker = tmp_path / "pwned"
    for version_id, data in ((5001, ckpt_bytes({**STATE, "boom": Evil()})),
                             (5002, pickle.dumps({**STATE, "boom": Evil()}))):
        civitai.add_model(version_id, f"Evil {version_id}")
        civitai.add_version(version_id, version_id, data, file_name="evil.ckpt")
        response = client.post_json(URL, {"model_id": version_id})
        assert response.status_code == 202, response.content
        model = wait_final(response.json()["hash"])
        assert model.status == "failed"
        assert "Refusing to load the file" in model.error_message
        assert not model_file_path(model).exists()
        assert not manager.part_path(model.hash).exists()
    assert not Evil.marker.exists()


def test_plain_weights_pickle_from_civitai_is_imported(client, civitai):
    data = ckpt_bytes(STATE)
    civitai.add_model(5003, "Plain")
    civitai.add_version(5003, 5003, data, file_name="plain.ckpt")
    response = client.post_json(URL, {"model_id": 5003})
    model = wait_final(response.json()["hash"])
    assert model.status == "ready", model.error_message
    assert model.file_ext == ".ckpt" and model_file_path(model).read_bytes() == data
    assert SDModel.objects.filter(status="ready").count() == 1
