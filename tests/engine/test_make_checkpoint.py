"""manage.py make_test_checkpoint: deterministic random-weight files in the real single-file layouts."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engine import architecture
from engine.files import read_shapes
from engine.tiny_models import model_configs


def _make(*args) -> str:
    out = StringIO()
    call_command("make_test_checkpoint", *args, stdout=out)
    return out.getvalue().strip()


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_checkpoint_is_deterministic_per_seed(tmp_path):
    first = _make(str(tmp_path / "a.safetensors"), "--seed", "3")
    again = _make(str(tmp_path / "b.safetensors"), "--seed", "3")
    other = _make(str(tmp_path / "c.safetensors"), "--seed", "4")
    assert first == str(tmp_path / "a.safetensors")
    assert _sha(first) == _sha(again) != _sha(other)
    inferred = architecture.infer_checkpoint(read_shapes(first))
    assert inferred.family == "sd15" and inferred.configs == model_configs("sd15")


@pytest.mark.parametrize("kind, arch, expected_key", [
    ("lora", "sd15", "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight"),
    ("lora", "sdxl", "lora_unet_input_blocks_3_1_transformer_blocks_0_attn1_to_q.lora_up.weight"),
    ("vae", "sd15", "decoder.up.0.block.0.conv1.weight"),
    ("embedding", "sd15", "emb_params"),
    ("embedding", "sdxl", "clip_g"),
    ("controlnet", "sd15", "control_model.input_hint_block.0.weight"),
    ("checkpoint", "sdxl", "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight"),
    ("checkpoint", "sdxl-vpred", "v_pred"),
    ("checkpoint", "sdxl-vpred", "ztsnr"),
])
def test_kinds_use_the_civitai_layouts(tmp_path, kind, arch, expected_key):
    path = _make(str(tmp_path / "m.safetensors"), "--kind", kind, "--arch", arch, "--seed", "1")
    shapes = read_shapes(path)
    assert expected_key in shapes
    if kind == "lora":
        assert any(k.startswith(("lora_te_", "lora_te1_")) and k.endswith(".alpha") for k in shapes)
        assert "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight" in shapes or arch == "sdxl"


def test_bad_arguments(tmp_path):
    with pytest.raises(CommandError):
        _make(str(tmp_path / "x.safetensors"), "--kind", "lora", "--full-size")
    with pytest.raises(CommandError):
        _make(str(tmp_path / "x.safetensors"), "--kind", "controlnet", "--arch", "sdxl")
    with pytest.raises(CommandError):
        _make(str(tmp_path / "x.safetensors"), "--seed", "-1")
    with pytest.raises(CommandError):
        _make(str(tmp_path / "x.safetensors"), "--kind", "unet")
    assert not (tmp_path / "x.safetensors").exists()
