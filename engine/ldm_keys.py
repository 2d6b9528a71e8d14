"""Diffusers state dicts -> the original single-file (LDM / open_clip) key layout, driven by the model config.

The inverse of diffusers' own `single_file_utils` converters (which only go the other way). Used to write test
fixtures and to list the keys (and shapes) a checkpoint must contain before it is handed to diffusers.
"""

import re

UNET_PREFIX = "model.diffusion_model."
CONTROLNET_PREFIX = "control_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer."          # SD1.x text encoder (transformers layout)
SDXL_CLIP_L_PREFIX = "conditioner.embedders.0.transformer."
SD2_OPEN_CLIP_PREFIX = "cond_stage_model.model."
SDXL_OPEN_CLIP_PREFIX = "conditioner.embedders.1.model."

_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
    "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
    "class_embedding.linear_1": "label_emb.0.0", "class_embedding.linear_2": "label_emb.0.2",
    # ControlNet only
    "controlnet_cond_embedding.conv_in": "input_hint_block.0",
    "controlnet_cond_embedding.conv_out": "input_hint_block.14",
    "controlnet_mid_block": "middle_block_out.0",
}
_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}


def _split(key: str) -> tuple[str, str]:
    """'a.b.weight' -> ('a.b', 'weight')."""
    module, _, param = key.rpartition(".")
    return module, param


def _resnet(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return _RESNET.get(head, head) + ("." + tail if tail else "")


def unet_key(key: str, config: dict) -> str:
    """One diffusers UNet2DConditionModel / ControlNetModel key -> its LDM name (without prefix)."""
    module, param = _split(key)
    if module in _UNET_FIXED:
        return f"{_UNET_FIXED[module]}.{param}"
    per_level = config["layers_per_block"] + 1
    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = 1 + block * per_level + layer
        return f"input_blocks.{index}.0.{_resnet(rest)}" if kind == "resnets" else f"input_blocks.{index}.1.{rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(\w+)", key):
        return f"input_blocks.{1 + int(m[1]) * per_level + per_level - 1}.0.op.{m[2]}"
    if m := re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)", key):
        kind, layer, rest = m[1], int(m[2]), m[3]
        return f"middle_block.{2 * layer}.{_resnet(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = block * per_level + layer
        return f"output_blocks.{index}.0.{_resnet(rest)}" if kind == "resnets" else f"output_blocks.{index}.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(\w+)", key):
        block = int(m[1])
        has_attention = config["up_block_types"][block].startswith("CrossAttn")
        return f"output_blocks.{block * per_level + per_level - 1}.{2 if has_attention else 1}.conv.{m[2]}"
    if m := re.fullmatch(r"controlnet_down_blocks\.(\d+)\.(\w+)", key):
        return f"zero_convs.{m[1]}.0.{m[2]}"
    if m := re.fullmatch(r"controlnet_cond_embedding\.blocks\.(\d+)\.(\w+)", key):
        return f"input_hint_block.{2 * (int(m[1]) + 1)}.{m[2]}"
    raise KeyError(f"no LDM name for UNet key {key!r}")


def unet_to_ldm(state_dict: dict, config: dict, prefix: str = UNET_PREFIX) -> dict:
    return {prefix + unet_key(k, config): v for k, v in state_dict.items()}


_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def vae_key(key: str, config: dict) -> str:
    """One diffusers AutoencoderKL key -> its LDM name (without prefix)."""
    key = key.replace("conv_shortcut", "nin_shortcut")
    if m := re.fullmatch(r"(encoder|decoder)\.conv_norm_out\.(\w+)", key):
        return f"{m[1]}.norm_out.{m[2]}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(.+)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+)", key):
        return f"encoder.down.{m[1]}.downsample.{m[2]}"
    last = len(config["up_block_types"]) - 1
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(.+)", key):
        return f"decoder.up.{last - int(m[1])}.block.{m[2]}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)", key):
        return f"decoder.up.{last - int(m[1])}.upsample.{m[2]}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(\w+)", key):
        return f"{m[1]}.mid.attn_1.{_VAE_ATTENTION[m[2]]}.{m[3]}"
    return key


def vae_to_ldm(state_dict: dict, config: dict, prefix: str = VAE_PREFIX) -> dict:
    """The VAE in LDM layout; attention projections become 1x1 convolutions as in the original."""
    out = {}
    for key, tensor in state_dict.items():
        name = vae_key(key, config)
        if ".mid.attn_1." in name and name.endswith(".weight") and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]
        out[prefix + name] = tensor
    return out


def clip_to_ldm(state_dict: dict, prefix: str = CLIP_PREFIX) -> dict:
    """A transformers CLIPTextModel state dict in the layout of SD1.x / SDXL clip_l single files."""
    return {prefix + "text_model." + k.removeprefix("text_model."): v for k, v in state_dict.items()
            if not k.endswith("position_ids")}


_OPEN_CLIP_LAYER = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj",
                    "self_attn.out_proj": "attn.out_proj"}
_OPEN_CLIP_FIXED = {"embeddings.position_embedding.weight": "positional_embedding",
                    "embeddings.token_embedding.weight": "token_embedding.weight",
                    "final_layer_norm.weight": "ln_final.weight", "final_layer_norm.bias": "ln_final.bias"}


def open_clip_to_ldm(state_dict: dict, prefix: str = SDXL_OPEN_CLIP_PREFIX) -> dict:
    """A transformers CLIPTextModelWithProjection state dict in open_clip layout (SDXL clip_g, SD2)."""
    import torch

    out = {}
    qkv: dict[tuple[int, str], dict] = {}
    for key, tensor in state_dict.items():
        key = key.removeprefix("text_model.")
        if key.endswith("position_ids"):
            continue
        if key == "text_projection.weight":
            out[prefix + "text_projection"] = tensor.T.contiguous()
        elif key in _OPEN_CLIP_FIXED:
            out[prefix + _OPEN_CLIP_FIXED[key]] = tensor
        elif m := re.fullmatch(r"encoder\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(\w+)", key):
            qkv.setdefault((int(m[1]), m[3]), {})[m[2]] = tensor
        elif m := re.fullmatch(r"encoder\.layers\.(\d+)\.(.+)\.(\w+)", key):
            out[f"{prefix}transformer.resblocks.{m[1]}.{_OPEN_CLIP_LAYER[m[2]]}.{m[3]}"] = tensor
        else:
            raise KeyError(f"no open_clip name for text encoder key {key!r}")
    for (layer, param), parts in qkv.items():
        out[f"{prefix}transformer.resblocks.{layer}.attn.in_proj_{param}"] = torch.cat(
            [parts["q"], parts["k"], parts["v"]])
    return out
