"""Upscaler models enter the library (D38): sniffed from files, imported from Civitai, made for tests."""

import hashlib
import io

import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError

from engine.files import read_shapes
from engine.tiny_models import upscaler_state_dict, write_model_file
from models_app.models import SDModel
from tests.support.civitai import URL, wait_final


class Evil:
    """Unpickling this writes a marker file: the payload an unsafe loader would run."""

    marker = None

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def import_file(path):
    call_command("import_model", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    return SDModel.objects.get(pk=hashlib.sha256(path.read_bytes()).hexdigest())


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_import_sniffs_the_upscaler_type(tmp_path, suffix):
    model = import_file(write_model_file(tmp_path / f"4x-tiny{suffix}", kind="upscaler"))
    assert (model.model_type, model.base_model, model.file_ext) == ("upscaler", None, suffix)


@pytest.mark.django_db
def test_basicsr_wrapped_pth_is_sniffed_too(tmp_path):
    path = tmp_path / "RealESRGAN_x4plus.pth"
    torch.save({"params_ema": upscaler_state_dict()}, path)
    assert import_file(path).model_type == "upscaler"


@pytest.mark.django_db
def test_pickle_needing_unsafe_loading_is_refused(tmp_path):
    Evil.marker = tmp_path / "pwned"
    path = tmp_path / "4x-evil.pth"
    torch.save({**upscaler_state_dict(), "hook": Evil()}, path)
    with pytest.raises(CommandError, match="Refusing"):
        import_file(path)
    assert not Evil.marker.exists() and not SDModel.objects.exists()


def test_make_test_checkpoint_writes_a_tiny_esrgan(tmp_path):
    out = io.StringIO()
    call_command("make_test_checkpoint", str(tmp_path / "up.safetensors"), "--kind", "upscaler", stdout=out)
    shapes = read_shapes(out.getvalue().strip())
    assert shapes["conv_first.weight"] == (8, 3, 3, 3) and "body.0.rdb1.conv1.weight" in shapes
    assert shapes["body.0.rdb1.conv1.weight"][0] == 32  # growth 32: what spandrel's ESRGAN expects
    assert {"conv_up1.weight", "conv_up2.weight", "conv_hr.weight", "conv_last.weight"} <= set(shapes)


@pytest.mark.django_db(transaction=True)  # the download thread uses its own connection
def test_civitai_upscaler_import(api, civitai, tmp_path):
    data = write_model_file(tmp_path / "4x_tiny.pth", kind="upscaler").read_bytes()
    civitai.add_model(7001, "4x Tiny", type="Upscaler")
    civitai.add_version(7001, 7002, data, base_model="Other", file_name="4x_tiny.pth")
    response = api.post_json(URL, {"model_id": 7001})
    assert response.status_code == 202, response.content
    model = wait_final(hashlib.sha256(data).hexdigest())
    assert (model.status, model.model_type, model.file_ext) == ("ready", "upscaler", ".pth"), model.error_message
    listed = api.get("/api/models?filter[model_type]=upscaler").json()["data"]
    assert [entry["id"] for entry in listed] == [model.hash]
