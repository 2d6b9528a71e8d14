"""manage.py import_model / models_app.services.import_model_file: kind and base model from real layouts,
safe pickle loading, idempotency, nothing stored on errors."""

import io
import os
import pickle
import struct

import pytest
import torch
from django.core.management import CommandError, call_command
from safetensors.torch import save_file

from engine.architecture import detect_family
from engine.files import read_shapes
from engine.tiny_models import ARCHS, family_of, write_model_file
from models_app.inspect import BASE_MODELS
from models_app.models import SDModel
from models_app.services import ModelImportError, import_model_file
from models_app.storage import model_file_path
from tests.support.factories import file_sha

pytestmark = pytest.mark.django_db


def t(*shape):
    return torch.zeros(*shape, dtype=torch.float16)


CKPT_SD15 = {
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": t(4, 768),
    "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": t(4, 768),
    "first_stage_model.decoder.conv_in.weight": t(4, 4, 1, 1),
}
CKPT_SD21 = {
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": t(4, 1024),
    "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": t(4, 1024),
}
CKPT_SDXL = {
    "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": t(4, 2048),
    "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": t(4, 768),
    "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias": t(1280),
}
LORA_SD15 = {
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": t(4, 768),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": t(320, 4),
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": t(()),
    "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": t(4, 768),
    "lora_te_text_model_encoder_layers_0_mlp_fc2.lora_down.weight": t(4, 3072),
}
LORA_SD21 = {
    "lora_te_text_model_encoder_layers_0_mlp_fc2.lora_down.weight": t(4, 4096),
    "lora_te_text_model_encoder_layers_0_self_attn_k_proj.lora_down.weight": t(4, 1024),
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": t(4, 320),
}
LORA_SDXL = {
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": t(4, 2048),
    "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": t(4, 768),
    "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": t(4, 1280),
}
LORA_SDXL_UNET_ONLY = {
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": t(4, 2048),
    "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight": t(640, 4),
}
LORA_PEFT_SD15 = {
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": t(4, 768),
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight": t(320, 4),
}
VAE = {
    "encoder.conv_in.weight": t(4, 3, 3, 3), "decoder.conv_out.weight": t(3, 4, 3, 3),
    "quant_conv.weight": t(8, 8, 1, 1), "post_quant_conv.weight": t(4, 4, 1, 1),
}
VAE_PREFIXED = {"first_stage_model.encoder.conv_in.weight": t(4, 3, 3, 3), "first_stage_model.decoder.conv_out.weight": t(3, 4, 3, 3)}
CONTROLNET_SD15 = {
    "control_model.input_hint_block.0.weight": t(16, 3, 3, 3),
    "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": t(4, 768),
}
CONTROLNET_SDXL_DIFFUSERS = {
    "controlnet_cond_embedding.conv_in.weight": t(16, 3, 3, 3),
    "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": t(4, 2048),
}
EMBEDDING_SD15 = {"emb_params": t(2, 768)}
EMBEDDING_SD21 = {"emb_params": t(3, 1024)}
EMBEDDING_SDXL = {"clip_l": t(2, 768), "clip_g": t(2, 1280)}


@pytest.mark.parametrize("tensors,model_type,base_model", [
    (CKPT_SD15, "checkpoint", "SD1.5"), (CKPT_SD21, "checkpoint", "SD2.1"), (CKPT_SDXL, "checkpoint", "SDXL"),
    (LORA_SD15, "lora", "SD1.5"), (LORA_SD21, "lora", "SD2.1"), (LORA_SDXL, "lora", "SDXL"),
    (LORA_SDXL_UNET_ONLY, "lora", "SDXL"), (LORA_PEFT_SD15, "lora", "SD1.5"),
    (VAE, "vae", None), (VAE_PREFIXED, "vae", None),
    (CONTROLNET_SD15, "controlnet", "SD1.5"), (CONTROLNET_SDXL_DIFFUSERS, "controlnet", "SDXL"),
    (EMBEDDING_SD15, "embedding", "SD1.5"), (EMBEDDING_SD21, "embedding", "SD2.1"),
    (EMBEDDING_SDXL, "embedding", "SDXL"),
])
def test_safetensors_layouts(tmp_path, tensors, model_type, base_model):
    path = tmp_path / "upload" / "my-model.safetensors"
    path.parent.mkdir()
    save_file(tensors, str(path))
    model, created = import_model_file(path)
    assert created
    assert (model.model_type, model.base_model) == (model_type, base_model)
    assert model.name == "my-model" and model.file_ext == ".safetensors" and model.status == "ready"
    assert model.hash == file_sha(path) and model.size == path.stat().st_size
    assert model_file_path(model).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("arch", ARCHS)
def test_import_labels_a_checkpoint_with_the_family_the_renderer_detects(tmp_path, arch):
    path = write_model_file(tmp_path / f"tiny-{arch}.safetensors", "checkpoint", arch)
    family = detect_family(read_shapes(str(path)))
    model, _ = import_model_file(path)
    assert family == family_of(arch) and model.base_model == BASE_MODELS[family] \
        == {"sd15": "SD1.5", "sdxl": "SDXL", "sdxl-vpred": "SDXL"}[arch]


def test_kohya_metadata_is_a_base_model_hint(tmp_path):
    path = tmp_path / "style.safetensors"
    save_file({"lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": t(4, 1280)}, str(path),
              metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    model, _ = import_model_file(path)
    assert (model.model_type, model.base_model) == ("lora", "SDXL")


def test_command_prints_hash_and_is_idempotent(tmp_path):
    path = tmp_path / "v1.safetensors"
    save_file(CKPT_SD15, str(path))
    out = io.StringIO()
    call_command("import_model", str(path), "--name", "Dream Valley", stdout=out, stderr=io.StringIO())
    sha = out.getvalue().strip()
    assert sha == file_sha(path)
    again = io.StringIO()
    call_command("import_model", str(path), stdout=again, stderr=io.StringIO())
    assert again.getvalue().strip() == sha
    assert SDModel.objects.count() == 1 and SDModel.objects.get().name == "Dream Valley"
    assert not any((tmp_path / "models" / "tmp").iterdir())


def test_type_and_base_model_options(tmp_path):
    path = tmp_path / "odd.safetensors"
    save_file({"something.unusual": t(3)}, str(path))
    with pytest.raises(CommandError, match="--type"):
        call_command("import_model", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not SDModel.objects.exists()
    call_command("import_model", str(path), "--type", "lora", "--base-model", "SD1.5",
                 stdout=io.StringIO(), stderr=io.StringIO())
    model = SDModel.objects.get()
    assert (model.model_type, model.base_model) == ("lora", "SD1.5")
    with pytest.raises(CommandError):
        call_command("import_model", str(path), "--type", "sampler", stdout=io.StringIO(), stderr=io.StringIO())


def test_weights_only_ckpt_loads(tmp_path):
    path = tmp_path / "legacy.ckpt"
    torch.save({"state_dict": dict(CKPT_SD15), "global_step": 1000, "epoch": 3}, path)
    model, created = import_model_file(path)
    assert created and (model.model_type, model.base_model, model.file_ext) == ("checkpoint", "SD1.5", ".ckpt")


def test_a1111_embedding_pt(tmp_path):
    path = tmp_path / "bad-hands.pt"
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": t(2, 768)}, "name": "bad-hands", "step": 100}, path)
    model, _ = import_model_file(path)
    assert (model.model_type, model.base_model, model.name) == ("embedding", "SD1.5", "bad-hands")


def test_diffusers_embedding_bin(tmp_path):
    path = tmp_path / "learned_embeds.bin"
    torch.save({"<cat-toy>": t(768)}, path)
    model, _ = import_model_file(path)
    assert (model.model_type, model.base_model) == ("embedding", "SD1.5")


class Evil:
    marker = None

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zip_format", [True, False])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    Evil.marker = marker
    path = tmp_path / "evil.ckpt"
    payload = {"state_dict": {"model.diffusion_model.x.weight": t(2)}, "boom": Evil()}
    if zip_format:
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CommandError, match="Refusing"):
        call_command("import_model", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not marker.exists()
    assert not SDModel.objects.exists()
    store = tmp_path / "models"
    assert not [p for p in store.rglob("*") if p.is_file()]
    # control: the payload is live, an unrestricted load does run it
    torch.load(path, weights_only=False) if zip_format else pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("content", [
    b"",
    b"\x00" * 4,
    struct.pack("<Q", 10**12) + b"{}",
    struct.pack("<Q", 5) + b"nojso" + b"x" * 10,
    struct.pack("<Q", 2) + b"[]",
])
def test_corrupt_safetensors_refused(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelImportError):
        import_model_file(path)
    assert not SDModel.objects.exists()


def test_truncated_safetensors_refused(tmp_path):
    path = tmp_path / "cut.safetensors"
    save_file(CKPT_SD15, str(path))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelImportError, match="Truncated"):
        import_model_file(path)


def test_bad_paths_and_extensions(tmp_path):
    with pytest.raises(CommandError):
        call_command("import_model", str(tmp_path / "missing.safetensors"), stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command("import_model", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())
    other = tmp_path / "model.zip"
    other.write_bytes(b"PK")
    with pytest.raises(ModelImportError, match="extension"):
        import_model_file(other)
    good = tmp_path / "x.safetensors"
    save_file(VAE, str(good))
    with pytest.raises(ModelImportError, match="empty"):
        import_model_file(good, name="  ")


def test_completes_a_failed_civitai_import_of_the_same_bytes(tmp_path):
    path = tmp_path / "from-civitai.safetensors"
    save_file(LORA_SD15, str(path))
    sha = file_sha(path)
    SDModel.objects.create(hash=sha, name="Civitai name", model_type="lora", base_model="SD1.5", size=1,
                           status="failed", error_message="SHA256 mismatch", metadata={"trigger_words": ["x"]})
    model, created = import_model_file(path)
    assert not created
    assert (model.status, model.error_message, model.name, model.metadata) == ("ready", None, "Civitai name", {"trigger_words": ["x"]})
    assert model.size == path.stat().st_size and model_file_path(model).is_file()


def test_downloading_model_is_not_overwritten(tmp_path):
    path = tmp_path / "busy.safetensors"
    save_file(LORA_SD15, str(path))
    SDModel.objects.create(hash=file_sha(path), name="x", model_type="lora", size=1, status="downloading")
    with pytest.raises(ModelImportError, match="downloaded"):
        import_model_file(path)


def test_imported_model_downloads_unchanged(api, tmp_path):
    path = tmp_path / "Ready Model.safetensors"
    save_file(CKPT_SDXL, str(path))
    model, _ = import_model_file(path)
    response = api.get(f"/api/models/{model.hash}/content")
    assert b"".join(response.streaming_content) == path.read_bytes()
    assert response["Content-Disposition"] == 'attachment; filename="Ready Model.safetensors"'


TORCH_ADVICE = ("weights_only", "arbitrary code", "trusted source", "add_safe_globals", "allowlist", "file an issue",
                "Check the documentation")


@pytest.mark.parametrize("content,reason", [
    (os.urandom(4096), "not a readable PyTorch weights file"),
    (b"\x80\x04K\x01.", "not a readable PyTorch weights file"),  # a pickle, not in torch.save's layout
    (pickle.dumps({"a": 1}, protocol=2)[:-3], "not a readable PyTorch weights file"),  # cut short
])
def test_an_unreadable_ckpt_is_refused_in_our_words_not_torchs(tmp_path, content, reason):
    """Issue 22 item 19: random bytes as .ckpt repeated torch's advice to load with weights_only=False, which would
    run whatever code the file carries."""
    path = tmp_path / "random.ckpt"
    path.write_bytes(content)
    with pytest.raises(CommandError) as refused:
        call_command("import_model", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    message = str(refused.value)
    assert reason in message, message
    assert not [advice for advice in TORCH_ADVICE if advice in message], message
    assert "\n" not in message
    assert not SDModel.objects.exists()


def test_a_checkpoint_with_code_is_refused_naming_what_it_would_run(tmp_path):
    Evil.marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.x.weight": t(2)}, "boom": Evil()}, path)
    with pytest.raises(CommandError) as refused:
        call_command("import_model", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    message = str(refused.value)
    assert "Refusing" in message and "Python objects besides tensors" in message, message
    assert not [advice for advice in TORCH_ADVICE if advice in message], message
    assert not Evil.marker.exists()
