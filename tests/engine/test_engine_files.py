"""Model files: the reverse key converters, config inference, validation, tokenizer, samplers (no rendering)."""

import subprocess
import sys

import pytest
import torch
from diffusers.loaders.single_file_utils import (
    convert_controlnet_checkpoint,
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
    convert_open_clip_checkpoint,
)
from safetensors.torch import save_file

from engine import SAMPLER_NAMES, CheckpointError, architecture, ldm_keys, tiny_models
from engine.a1111.infotext import format_number
from engine.files import read_shapes
from engine.samplers import make_scheduler
from engine.tokenizer import clip_tokenizer


def _assert_same_tensors(actual: dict, expected: dict):
    assert sorted(actual) == sorted(expected)
    for key, tensor in expected.items():
        assert actual[key].shape == tensor.shape, key
        assert torch.equal(actual[key], tensor), key


def _without_position_ids(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.endswith("position_ids")}


def test_engine_package_does_not_import_django():
    code = ("import sys, engine; "
            "assert 'torch' not in sys.modules, 'the package import stays light (GET /api/config uses it)'; "
            "import engine.tiny_models, engine.loader, engine.engine; "
            "assert 'django' not in sys.modules, 'django imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=".")
    assert result.returncode == 0, result.stderr


def test_tokenizer_matches_clip():
    tokenizer = clip_tokenizer()
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert len(tokenizer) == 49408 and tokenizer.model_max_length == 77
    assert tokenizer.pad_token_id == 49407
    assert clip_tokenizer(pad_token="!").pad_token_id == 0


@pytest.mark.parametrize("arch", tiny_models.ARCHS)
def test_checkpoint_round_trips_through_diffusers_converters(arch):
    configs = tiny_models.model_configs(arch)
    models = tiny_models.build_models(arch, seed=3)
    ldm = tiny_models.checkpoint_state_dict(arch, seed=3)
    assert all(k.startswith(("model.diffusion_model.", "first_stage_model.", "cond_stage_model.", "conditioner."))
               for k in ldm)
    _assert_same_tensors(convert_ldm_unet_checkpoint(ldm, configs["unet"]), models["unet"].state_dict())
    _assert_same_tensors(convert_ldm_vae_checkpoint(ldm, configs["vae"]), models["vae"].state_dict())
    clip = {k.removeprefix("text_model."): v for k, v in convert_ldm_clip_checkpoint(ldm).items()}
    _assert_same_tensors(clip, _without_position_ids(models["text_encoder"].state_dict()))
    if arch == "sdxl":
        open_clip = convert_open_clip_checkpoint(models["text_encoder_2"], ldm, ldm_keys.SDXL_OPEN_CLIP_PREFIX)
        _assert_same_tensors(open_clip, _without_position_ids(models["text_encoder_2"].state_dict()))


def test_vae_and_controlnet_round_trip():
    from diffusers import AutoencoderKL, ControlNetModel

    vae_config = tiny_models.model_configs("sd15")["vae"]
    vae = AutoencoderKL.from_config(vae_config)
    standalone = ldm_keys.vae_to_ldm(vae.state_dict(), vae_config, prefix="")
    assert "encoder.mid.attn_1.q.weight" in standalone and standalone["encoder.mid.attn_1.q.weight"].ndim == 4
    _assert_same_tensors(convert_ldm_vae_checkpoint(standalone, vae_config), vae.state_dict())
    config = tiny_models.controlnet_config("sd15")
    net = ControlNetModel.from_config(config)
    ldm = ldm_keys.unet_to_ldm(net.state_dict(), config, prefix=ldm_keys.CONTROLNET_PREFIX)
    assert "control_model.input_hint_block.14.weight" in ldm and "control_model.zero_convs.0.0.weight" in ldm
    _assert_same_tensors(convert_controlnet_checkpoint(ldm, config), net.state_dict())


@pytest.mark.parametrize("arch", tiny_models.ARCHS)
def test_tiny_file_yields_its_own_configs(tmp_path, arch):
    path = tiny_models.write_model_file(tmp_path / "model.safetensors", arch=arch)
    inferred = architecture.infer_checkpoint(read_shapes(str(path)))
    assert inferred.family == tiny_models.family_of(arch)
    assert inferred.configs == tiny_models.model_configs(arch)


def _real_size_shapes(family: str) -> dict:
    """The key -> shape map of a real-size checkpoint of `family`, from the shipped configs (no weights)."""
    components = ["unet", "vae", "text_encoder"] + (["text_encoder_2"] if family == "sdxl" else [])
    arch = architecture.Architecture(family, {c: architecture.template(f"{family}/{c}/config.json")
                                              for c in components})
    shapes = architecture.expected_checkpoint_shapes(arch)
    if family == "sd2":  # real SD2 files carry open_clip's last layer, which SD2 does not use
        for key, shape in list(shapes.items()):
            if ".resblocks.22." in key:
                shapes[key.replace(".resblocks.22.", ".resblocks.23.")] = shape
    return shapes


@pytest.mark.parametrize("family", architecture.FAMILIES)
def test_real_size_layout_yields_the_shipped_configs(family):
    inferred = architecture.infer_checkpoint(_real_size_shapes(family))
    assert inferred.family == family
    for component, config in inferred.configs.items():
        assert config == architecture.template(f"{family}/{component}/config.json"), component


def test_real_sd15_dimensions():
    shapes = _real_size_shapes("sd15")
    assert shapes["model.diffusion_model.input_blocks.0.0.weight"] == (320, 4, 3, 3)
    assert shapes["cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"] == (49408, 768)
    assert shapes["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] == (320, 768)
    assert shapes["first_stage_model.decoder.up.0.block.0.nin_shortcut.weight"] == (128, 256, 1, 1)


@pytest.fixture(scope="module")
def tiny_state():
    return tiny_models.checkpoint_state_dict("sd15", seed=0)


def _write(path, state):
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return str(path)


def test_missing_or_misshaped_tensor_is_a_checkpoint_error(tmp_path, tiny_state):
    missing = dict(tiny_state)
    del missing["model.diffusion_model.output_blocks.2.0.in_layers.2.weight"]
    with pytest.raises(CheckpointError, match="missing model.diffusion_model.output_blocks.2.0.in_layers.2.weight"):
        architecture.infer_checkpoint(read_shapes(_write(tmp_path / "missing.safetensors", missing)))
    no_vae = {k: v for k, v in tiny_state.items() if not k.startswith("first_stage_model.decoder.")}
    with pytest.raises(CheckpointError, match="missing tensor .first_stage_model.decoder"):
        architecture.infer_checkpoint(read_shapes(_write(tmp_path / "no_vae.safetensors", no_vae)))
    wrong = dict(tiny_state)
    key = "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc2.weight"
    wrong[key] = torch.zeros(32, 48)
    with pytest.raises(CheckpointError, match="has shape"):
        architecture.infer_checkpoint(read_shapes(_write(tmp_path / "wrong.safetensors", wrong)))


def test_other_files_are_not_checkpoints(tmp_path):
    cases = {"lora": "LoRA", "vae": "VAE", "embedding": "embedding"}
    for kind, word in cases.items():
        path = tiny_models.write_model_file(tmp_path / f"{kind}.safetensors", kind=kind)
        with pytest.raises(CheckpointError, match=word):
            architecture.infer_checkpoint(read_shapes(str(path)))
    empty = _write(tmp_path / "empty.safetensors", {"x": torch.zeros(1)})
    with pytest.raises(CheckpointError):
        architecture.infer_checkpoint(read_shapes(empty))
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(CheckpointError):
        read_shapes(str(tmp_path / "junk.safetensors"))


class NotATensor:
    pass


def test_ckpt_files_load_weights_only(tmp_path, tiny_state):
    ckpt = tmp_path / "model.ckpt"
    torch.save({"state_dict": tiny_state, "global_step": 1}, ckpt)
    assert architecture.infer_checkpoint(read_shapes(str(ckpt))).configs == tiny_models.model_configs("sd15")
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": tiny_state, "payload": NotATensor()}, evil)
    with pytest.raises(CheckpointError, match="weights-only"):
        read_shapes(str(evil))


def test_standalone_vae_and_controlnet_configs(tmp_path):
    vae = tiny_models.write_model_file(tmp_path / "vae.safetensors", kind="vae")
    assert architecture.infer_vae(read_shapes(str(vae)), "sd15") == tiny_models.model_configs("sd15")["vae"]
    assert architecture.infer_vae(read_shapes(str(vae)), "sdxl")["scaling_factor"] == 0.13025
    net = tiny_models.write_model_file(tmp_path / "cn.safetensors", kind="controlnet")
    assert architecture.infer_controlnet(read_shapes(str(net)), "sd15") == tiny_models.controlnet_config("sd15")
    with pytest.raises(CheckpointError):
        architecture.infer_vae(read_shapes(str(net)), "sd15")


# What each sampler name renders with schedule type Automatic (A1111 1.9+: DPM++ 2M means its default, Karras)
SCHEDULER_EXPECTATIONS = {
    "Euler": ("EulerDiscreteSchedulerWithWrittenSigmas", {"timestep_spacing": "linspace"}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {"timestep_spacing": "linspace"}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++",
                                                     "use_exponential_sigmas": True}),
    "DPM++ 2M SDE Karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++",
                                                            "use_karras_sigmas": True}),
    "DPM++ SDE": ("DPMSolverSDEScheduler", {"use_karras_sigmas": True, "noise_sampler_seed": [7, 8]}),
    "DPM++ SDE Karras": ("DPMSolverSDEScheduler", {"use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {"timestep_spacing": "leading", "steps_offset": 1}),
    "UniPC": ("UniPCMultistepScheduler", {"timestep_spacing": "linspace"}),
    "LMS": ("LMSDiscreteScheduler", {"timestep_spacing": "linspace"}),
    "Heun": ("HeunDiscreteScheduler", {"timestep_spacing": "linspace"}),
    "DPM2": ("KDPM2DiscreteScheduler", {"timestep_spacing": "linspace", "use_karras_sigmas": True}),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {"timestep_spacing": "linspace", "use_karras_sigmas": True}),
    "PLMS": ("PNDMScheduler", {"skip_prk_steps": True, "timestep_spacing": "leading"}),
    "DPM++ 2M SDE Heun": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++", "solver_type": "heun",
                                                          "use_exponential_sigmas": True}),
    "LCM": ("LCMScheduler", {"original_inference_steps": 50, "timestep_scaling": 10.0}),
    "LMS Karras": ("LMSDiscreteScheduler", {"use_karras_sigmas": True}),
    "DPM2 Karras": ("KDPM2DiscreteScheduler", {"use_karras_sigmas": True}),
    "DPM2 a Karras": ("KDPM2AncestralDiscreteScheduler", {"use_karras_sigmas": True}),
}


def test_sampler_names_map_to_configured_schedulers():
    assert list(SCHEDULER_EXPECTATIONS) == SAMPLER_NAMES
    base = architecture.template("sd15/scheduler/scheduler_config.json")
    for name, (class_name, expected) in SCHEDULER_EXPECTATIONS.items():
        scheduler = make_scheduler(name, base, [7, 8])
        assert type(scheduler).__name__ == class_name, name
        assert {k: scheduler.config[k] for k in expected} == expected, name
        assert scheduler.config["beta_schedule"] == "scaled_linear"
    with pytest.raises(ValueError, match="Euler a"):
        make_scheduler("Euler b", base, [0])


def test_webui_discretisation_starts_at_sigma_max():
    euler = make_scheduler("Euler", architecture.template("sd15/scheduler/scheduler_config.json"), [0])
    euler.set_timesteps(20)
    assert float(euler.timesteps[0]) == pytest.approx(999)
    assert float(euler.sigmas[0]) == pytest.approx(14.61, abs=0.01)


def test_cfg_formatting():
    assert [format_number(v) for v in (7, 7.0, 6.5, 12.25, 30.0)] == ["7", "7", "6.5", "12.25", "30"]
