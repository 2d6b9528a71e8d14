"""Random-weight model files in the real single-file layouts, for tests and benchmarks (no Django).

Tiny models keep the real architectures and the real CLIP vocabulary but use few, narrow layers, so they load
and render on a CPU in milliseconds; their attention head counts follow the same rules the loader applies
(`architecture.unet_attention_heads` / `text_attention_heads`). `full_size=True` writes a real-size model.
Every writer is deterministic for a given seed.
"""

import contextlib
from pathlib import Path

import torch

from . import architecture as arch_mod
from . import ldm_keys, prediction
from .architecture import template, text_attention_heads, unet_attention_heads
from .upscale import rrdbnet_class

ARCHS = ("sd15", "sdxl", "sdxl-vpred")
# sdxl-vpred: the SDXL test model with the marker keys NoobAI-XL V-Pred-style files carry (`v_pred`, `ztsnr`: empty
# tensors, as ComfyUI and Forge save them); engine/prediction.py reads them
MARKER_KEYS = {"sdxl-vpred": (prediction.V_PRED_KEY, prediction.ZTSNR_KEY)}


def family_of(arch: str) -> str:
    """The model family (engine/architecture.py) of a test model arch."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}")
    return "sdxl" if arch == "sdxl-vpred" else arch
KINDS = ("checkpoint", "lora", "vae", "embedding", "controlnet", "upscaler")

_TINY_CHANNELS = [32, 64]
_TINY_VAE = dict(block_out_channels=[32, 32, 32, 32], layers_per_block=1)
_TINY_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2)
_TINY_TEXT_2 = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, projection_dim=32)


def model_configs(arch: str = "sd15", full_size: bool = False) -> dict[str, dict]:
    """The diffusers configs (component -> config) of the test model of `arch`."""
    arch = family_of(arch)
    names = ["unet", "vae", "text_encoder"] + (["text_encoder_2"] if arch == "sdxl" else [])
    configs = {name: template(f"{arch}/{name}/config.json") for name in names}
    if full_size:
        return configs
    configs["vae"].update(_TINY_VAE)
    for name, dims in (("text_encoder", _TINY_TEXT), ("text_encoder_2", _TINY_TEXT_2)):
        if name in configs:
            configs[name].update(dims, num_attention_heads=text_attention_heads(dims["hidden_size"]))
    unet = configs["unet"]
    unet.update(block_out_channels=_TINY_CHANNELS, layers_per_block=1,
                attention_head_dim=unet_attention_heads(arch, _TINY_CHANNELS))
    if arch == "sd15":
        unet.update(cross_attention_dim=_TINY_TEXT["hidden_size"],
                    down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"])
    else:
        time_dim = 8
        unet.update(cross_attention_dim=_TINY_TEXT["hidden_size"] + _TINY_TEXT_2["hidden_size"],
                    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                    up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], transformer_layers_per_block=[1, 2],
                    addition_time_embed_dim=time_dim,
                    projection_class_embeddings_input_dim=_TINY_TEXT_2["projection_dim"] + 6 * time_dim)
    return configs


def controlnet_config(arch: str = "sd15") -> dict:
    """The ControlNetModel config matching the tiny UNet of `arch` (SD1.x only)."""
    if arch != "sd15":
        raise ValueError("test ControlNets exist for sd15 only")
    unet = model_configs(arch)["unet"]
    config = template("controlnet_sd15/config.json")
    config.update({k: unet[k] for k in ("block_out_channels", "layers_per_block", "cross_attention_dim",
                                        "down_block_types", "attention_head_dim")})
    config["conditioning_embedding_out_channels"] = [8, 8, 16, 16]
    return config


@contextlib.contextmanager
def _seeded(seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_models(arch: str = "sd15", seed: int = 0, full_size: bool = False) -> dict:
    """Random-weight diffusers/transformers models (component -> module) of the test model."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    configs = model_configs(arch, full_size)
    with _seeded(seed):
        models = {"unet": UNet2DConditionModel.from_config(configs["unet"]),
                  "vae": AutoencoderKL.from_config(configs["vae"])}
        for name in ("text_encoder", "text_encoder_2"):
            if name in configs:
                models[name] = arch_mod._text_model(configs[name])
    return models


def checkpoint_state_dict(arch: str = "sd15", seed: int = 0, full_size: bool = False) -> dict:
    """The test checkpoint as a single-file (original layout) state dict."""
    configs = model_configs(arch, full_size)
    models = build_models(arch, seed, full_size)
    state = ldm_keys.unet_to_ldm(models["unet"].state_dict(), configs["unet"])
    state.update(ldm_keys.vae_to_ldm(models["vae"].state_dict(), configs["vae"]))
    if arch == "sdxl":
        state.update(ldm_keys.clip_to_ldm(models["text_encoder"].state_dict(), ldm_keys.SDXL_CLIP_L_PREFIX))
        state.update(ldm_keys.open_clip_to_ldm(models["text_encoder_2"].state_dict()))
    else:
        state.update(ldm_keys.clip_to_ldm(models["text_encoder"].state_dict()))
    return state


def vae_state_dict(arch: str = "sd15", seed: int = 0) -> dict:
    """A standalone VAE file (keys `encoder.…` / `decoder.…`) fitting the tiny checkpoint of `arch`."""
    from diffusers import AutoencoderKL

    config = model_configs(arch)["vae"]
    with _seeded(seed):
        vae = AutoencoderKL.from_config(config)
    return ldm_keys.vae_to_ldm(vae.state_dict(), config, prefix="")


def embedding_state_dict(arch: str = "sd15", seed: int = 0, vectors: int = 2) -> dict:
    """A textual-inversion embedding: `emb_params` (SD1.x) or `clip_l` + `clip_g` (SDXL)."""
    configs = model_configs(arch)
    generator = torch.Generator().manual_seed(seed)

    def vectors_for(name):
        return torch.randn(vectors, configs[name]["hidden_size"], generator=generator)

    if arch == "sdxl":
        return {"clip_l": vectors_for("text_encoder"), "clip_g": vectors_for("text_encoder_2")}
    return {"emb_params": vectors_for("text_encoder")}


def _lora_targets(models: dict, arch: str) -> dict[str, torch.nn.Linear]:
    """kohya module name -> the Linear it adapts (UNet attention and text-encoder attention/MLP)."""
    unet_config = model_configs(arch)["unet"]
    targets = {}
    for name, module in models["unet"].named_modules():
        if isinstance(module, torch.nn.Linear) and ".transformer_blocks." in name and \
                name.rsplit(".", 1)[-1] in ("to_q", "to_k", "to_v", "0"):
            if arch == "sdxl":  # kohya names SDXL UNet modules by their original (sgm) names
                name = ldm_keys.unet_key(name + ".weight", unet_config).removesuffix(".weight")
            targets["lora_unet_" + name.replace(".", "_")] = module
    encoders = {"text_encoder": "lora_te1_", "text_encoder_2": "lora_te2_"} if arch == "sdxl" \
        else {"text_encoder": "lora_te_"}
    for component, prefix in encoders.items():
        for name, module in models[component].named_modules():
            if isinstance(module, torch.nn.Linear) and ".layers." in name:
                name = "text_model." + name.removeprefix("text_model.")
                targets[prefix + name.replace(".", "_")] = module
    return targets


def lora_state_dict(arch: str = "sd15", seed: int = 0, rank: int = 4, alpha: float = 2.0) -> dict:
    """A kohya-layout LoRA for the tiny model of `arch`: `<module>.lora_down.weight` / `.lora_up.weight` / `.alpha`."""
    targets = _lora_targets(build_models(arch, 0), arch)
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, module in sorted(targets.items()):
        state[f"{name}.lora_down.weight"] = torch.randn(rank, module.in_features, generator=generator) * 0.3
        state[f"{name}.lora_up.weight"] = torch.randn(module.out_features, rank, generator=generator) * 0.3
        state[f"{name}.alpha"] = torch.tensor(float(alpha))
    return state


def controlnet_state_dict(arch: str = "sd15", seed: int = 0) -> dict:
    """A ControlNet in the original layout (`control_model.…`), zero convolutions made non-zero."""
    from diffusers import ControlNetModel

    config = controlnet_config(arch)
    with _seeded(seed):
        model = ControlNetModel.from_config(config)
        for name, param in model.named_parameters():
            if name.startswith(("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")):
                param.data.normal_(0, 0.5)
    return ldm_keys.unet_to_ldm(model.state_dict(), config, prefix=ldm_keys.CONTROLNET_PREFIX)


def upscaler_state_dict(arch: str = "sd15", seed: int = 0, scale: int = 4) -> dict:
    """A tiny 4x (or 2x) ESRGAN in the new (basicsr/Real-ESRGAN) key layout; `arch` is ignored (any base fits).

    8 features and one RRDB block; the dense blocks grow by 32 channels, the only growth spandrel accepts.
    """
    with _seeded(seed):
        model = rrdbnet_class()(3, 3, features=8, blocks=1, growth=32, upsamples={2: 1, 4: 2}[scale])
    return model.state_dict()


def write_model_file(path, kind: str = "checkpoint", arch: str = "sd15", seed: int = 0,
                     full_size: bool = False) -> Path:
    """Write a random-weight model file of `kind` (fp16 when full size); returns the path.

    safetensors, or a plain weights-only PyTorch pickle when the path ends in .pth, .pt or .ckpt.
    """
    from safetensors.torch import save_file

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if full_size and kind != "checkpoint":
        raise ValueError("full_size applies to checkpoints only")
    markers = MARKER_KEYS.get(arch, ()) if kind == "checkpoint" else ()
    arch = family_of(arch)
    if kind == "checkpoint":
        state = checkpoint_state_dict(arch, seed, full_size)
        state.update({key: torch.zeros(0) for key in markers})
    else:
        state = {"lora": lora_state_dict, "vae": vae_state_dict, "embedding": embedding_state_dict,
                 "controlnet": controlnet_state_dict, "upscaler": upscaler_state_dict}[kind](arch, seed)
    dtype = torch.float16 if full_size else torch.float32
    state = {k: v.detach().to(dtype).contiguous() for k, v in state.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".pth", ".pt", ".ckpt"):
        torch.save(state, str(path))
    else:
        save_file(state, str(path), metadata={"format": "pt"})
    return path
