"""Which architecture a single-file model has, and the diffusers configs that load it.

The family (sd15, sd2, sdxl) comes from the text-encoder keys; every dimension (channels, layers, widths,
vocabulary) is read from the tensor shapes, the remaining fields come from the shipped real configs in
`configs/<family>/`, and attention head counts follow each architecture's own rule (`unet_attention_heads`,
`text_attention_heads`). A real SD file therefore yields exactly the shipped config, a tiny test file its own.
Before diffusers sees a file, every key (and shape) the inferred models need is checked to be present.
"""

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from . import ldm_keys
from .errors import CheckpointError
from .prediction import Prediction, from_keys

CONFIG_DIR = Path(__file__).parent / "configs"
FAMILIES = ("sd15", "sd2", "sdxl")
CLIP_VOCAB_SIZE = 49408
CLIP_MAX_LENGTH = 77

Shapes = dict[str, tuple[int, ...]]


@cache
def _template(path: str) -> dict:
    return json.loads((CONFIG_DIR / path).read_text())


def template(path: str) -> dict:
    """A shipped config file (fresh copy), e.g. template('sd15/unet/config.json')."""
    return copy.deepcopy(_template(path))


def unet_attention_heads(family: str, block_out_channels) -> int | list[int]:
    """SD1.x: 8 heads everywhere; SD2/SDXL: heads of width 64 (at least one head)."""
    if family == "sd15":
        return 8
    return [max(1, c // 64) for c in block_out_channels]


def text_attention_heads(hidden_size: int) -> int:
    """CLIP / open_clip text towers use heads of width 64."""
    return max(1, hidden_size // 64)


@dataclass
class Architecture:
    """A checkpoint's family and the diffusers config of each of its components."""

    family: str
    configs: dict[str, dict] = field(default_factory=dict)   # component -> config (unet, vae, text_encoder...)
    prediction: Prediction = field(default_factory=Prediction)  # from the file's `v_pred` / `ztsnr` keys

    @property
    def model_index(self) -> dict:
        return template(f"{self.family}/model_index.json")

    @property
    def scheduler_config(self) -> dict:
        """The family's shipped scheduler config with the model's prediction type (engine/prediction.py; the
        samplers add the zero-terminal-SNR betas)."""
        config = template(f"{self.family}/scheduler/scheduler_config.json")
        config["prediction_type"] = self.prediction.prediction_type
        return config

    def write(self, folder: Path) -> None:
        """Write a diffusers config folder (no weights) for `from_single_file(config=folder)`."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model_index.json").write_text(json.dumps(self.model_index))
        for component, config in self.configs.items():
            (folder / component).mkdir(exist_ok=True)
            (folder / component / "config.json").write_text(json.dumps(config))


# ---------------------------------------------------------------------------------------------------- detection

# The width of the text conditioning each family's UNet (or ControlNet) cross-attends to, and the width of the
# token embeddings of its (first) text encoder
CONTEXT_WIDTH_FAMILY = {768: "sd15", 1024: "sd2", 2048: "sdxl"}
TEXT_WIDTH_FAMILY = {768: "sd15", 1024: "sd2", 1280: "sdxl"}
SDXL_SECOND_ENCODER = "conditioner.embedders.1."
SDXL_REFINER_KEY = "conditioner.embedders.0.model.text_projection"
TEXT_ENCODER_PREFIX = {"sd15": ldm_keys.CLIP_PREFIX, "sd2": ldm_keys.SD2_OPEN_CLIP_PREFIX,
                       "sdxl": ldm_keys.SDXL_OPEN_CLIP_PREFIX}


def checkpoint_family(shapes: Shapes) -> str | None:
    """sd15 / sd2 / sdxl of a full checkpoint (single-file layout), None when its keys name no family.

    The one detector for model import (which labels the file, `models_app/inspect.py`) and rendering
    (`detect_family`): SDXL base by its second text encoder (`conditioner.embedders.1.…`), else the width the
    UNet's cross-attention takes, else the text encoder's layout (CLIP: SD1.x, open_clip: SD2). An SDXL
    refiner (one open_clip encoder, a 1280-wide context) is none of them.
    """
    if any(k.startswith(SDXL_SECOND_ENCODER) for k in shapes):
        return "sdxl"
    family = CONTEXT_WIDTH_FAMILY.get(cross_attention_width(shapes))
    if family is not None:
        return family
    if any(k.startswith(ldm_keys.CLIP_PREFIX) for k in shapes):
        return "sd15"
    if any(k.startswith(ldm_keys.SD2_OPEN_CLIP_PREFIX) for k in shapes):
        return "sd2"
    return None


def cross_attention_width(shapes: Shapes) -> int | None:
    """The input width of the first cross-attention key projection (UNet, ControlNet or LoRA naming)."""
    for key, shape in shapes.items():
        if key.endswith(("attn2.to_k.weight", "attn2_to_k.weight")) and len(shape) == 2:
            return shape[1]
    return None


def detect_family(shapes: Shapes) -> str:
    """`checkpoint_family` of a checkpoint to render, which needs that family's text encoder; CheckpointError
    saying what the file is otherwise."""
    family = checkpoint_family(shapes)
    if family is not None and any(k.startswith(TEXT_ENCODER_PREFIX[family]) for k in shapes):
        return family
    if SDXL_REFINER_KEY in shapes:
        raise CheckpointError("SDXL refiner checkpoints are not supported")
    if any(k.startswith(ldm_keys.UNET_PREFIX) for k in shapes):
        raise CheckpointError("the checkpoint has no text encoder in a supported layout")
    raise CheckpointError(f"not a Stable Diffusion checkpoint ({describe_keys(shapes)})")


def describe_keys(shapes: Shapes) -> str:
    """A short human description of what a file that is not a checkpoint looks like."""
    keys = list(shapes)
    if not keys:
        return "the file holds no tensors"
    if any(k.startswith(("lora_unet_", "lora_te")) for k in keys):
        return "it is a LoRA"
    if any(k.startswith(("encoder.", "decoder.")) for k in keys):
        return "it is a VAE"
    if "emb_params" in shapes or "clip_l" in shapes:
        return "it is a textual-inversion embedding"
    return f"unrecognised keys such as {keys[0]!r}"


def _indices(shapes: Shapes, pattern: str) -> set[int]:
    regex = re.compile(pattern)
    return {int(m[1]) for k in shapes if (m := regex.match(k))}


def _shape(shapes: Shapes, key: str) -> tuple[int, ...]:
    try:
        return shapes[key]
    except KeyError:
        raise CheckpointError(f"missing tensor {key!r}") from None


# ---------------------------------------------------------------------------------------------------- inference

def unet_config(shapes: Shapes, family: str, prefix: str = ldm_keys.UNET_PREFIX,
                base: dict | None = None) -> dict:
    """The UNet2DConditionModel (or ControlNetModel, given its base) config of the UNet under `prefix`."""
    config = base if base is not None else template(f"{family}/unet/config.json")
    p = re.escape(prefix)
    conv_in = _shape(shapes, prefix + "input_blocks.0.0.weight")
    n_input = max(_indices(shapes, p + r"input_blocks\.(\d+)\."), default=0) + 1
    n_down = len(_indices(shapes, p + r"input_blocks\.(\d+)\.0\.op\.weight"))
    levels = n_down + 1
    per_level, remainder = divmod(n_input, levels)  # conv_in + per level: layers and a downsampler (none last)
    if remainder or per_level < 2:
        raise CheckpointError(f"unexpected UNet block layout ({n_input} input blocks, {n_down} downsamplers)")
    layers = per_level - 1
    channels, cross, depth, context_dim, linear = [], [], [], None, None
    for level in range(levels):
        first = f"{prefix}input_blocks.{1 + level * per_level}."
        channels.append(_shape(shapes, first + "0.out_layers.3.weight")[0])
        blocks = _indices(shapes, re.escape(first) + r"1\.transformer_blocks\.(\d+)\.")
        cross.append(bool(blocks))
        depth.append(len(blocks) or 1)
        if blocks:
            context_dim = _shape(shapes, first + "1.transformer_blocks.0.attn2.to_k.weight")[1]
            linear = len(_shape(shapes, first + "1.proj_in.weight")) == 2
    if context_dim is None:
        raise CheckpointError("the UNet has no cross-attention blocks")
    config.update(
        in_channels=conv_in[1], block_out_channels=channels, layers_per_block=layers,
        cross_attention_dim=context_dim,
        down_block_types=["CrossAttnDownBlock2D" if c else "DownBlock2D" for c in cross],
        attention_head_dim=unet_attention_heads(family, channels),
    )
    if "up_block_types" in config:
        config["up_block_types"] = ["CrossAttnUpBlock2D" if c else "UpBlock2D" for c in reversed(cross)]
    if "out_channels" in config:
        config["out_channels"] = _shape(shapes, prefix + "out.2.weight")[0]
    if family != "sd15":
        config["use_linear_projection"] = linear
    if family == "sdxl" or any(d != 1 for d in depth):
        config["transformer_layers_per_block"] = depth
    if (label := prefix + "label_emb.0.0.weight") in shapes:
        config["projection_class_embeddings_input_dim"] = shapes[label][1]
    return config


def vae_config(shapes: Shapes, family: str, prefix: str) -> dict:
    """The AutoencoderKL config of the VAE under `prefix` ('' for a standalone VAE file)."""
    config = template(f"{family}/vae/config.json")
    p = re.escape(prefix)
    levels = len(_indices(shapes, p + r"encoder\.down\.(\d+)\."))
    if not levels:
        raise CheckpointError("no VAE encoder blocks found")
    config.update(
        in_channels=_shape(shapes, prefix + "encoder.conv_in.weight")[1],
        out_channels=_shape(shapes, prefix + "decoder.conv_out.weight")[0],
        latent_channels=_shape(shapes, prefix + "quant_conv.weight")[0] // 2,
        block_out_channels=[_shape(shapes, f"{prefix}encoder.down.{i}.block.0.conv1.weight")[0] for i in range(levels)],
        layers_per_block=len(_indices(shapes, p + r"encoder\.down\.0\.block\.(\d+)\.")),
        down_block_types=["DownEncoderBlock2D"] * levels, up_block_types=["UpDecoderBlock2D"] * levels,
    )
    return config


def _text_config(config: dict, vocab: int, positions: int, hidden: int, inner: int, layers: int) -> dict:
    if vocab != CLIP_VOCAB_SIZE or positions != CLIP_MAX_LENGTH:
        raise CheckpointError(f"text encoder with vocabulary {vocab} and {positions} positions; "
                              f"the CLIP tokenizer needs {CLIP_VOCAB_SIZE} and {CLIP_MAX_LENGTH}")
    config.update(vocab_size=vocab, max_position_embeddings=positions, hidden_size=hidden,
                  intermediate_size=inner, num_hidden_layers=layers,
                  num_attention_heads=text_attention_heads(hidden))
    return config


def clip_config(shapes: Shapes, family: str, component: str, prefix: str) -> dict:
    """CLIPTextModel config of a transformers-layout text encoder (SD1.x, SDXL clip_l)."""
    p = prefix + "text_model."
    vocab, hidden = _shape(shapes, p + "embeddings.token_embedding.weight")
    positions = _shape(shapes, p + "embeddings.position_embedding.weight")[0]
    inner = _shape(shapes, p + "encoder.layers.0.mlp.fc1.weight")[0]
    layers = len(_indices(shapes, re.escape(p) + r"encoder\.layers\.(\d+)\."))
    return _text_config(template(f"{family}/{component}/config.json"), vocab, positions, hidden, inner, layers)


def open_clip_config(shapes: Shapes, family: str, component: str, prefix: str) -> dict:
    """CLIPTextModel(WithProjection) config of an open_clip-layout text encoder (SD2, SDXL clip_g)."""
    vocab, hidden = _shape(shapes, prefix + "token_embedding.weight")
    positions = _shape(shapes, prefix + "positional_embedding")[0]
    inner = _shape(shapes, prefix + "transformer.resblocks.0.mlp.c_fc.weight")[0]
    layers = len(_indices(shapes, re.escape(prefix) + r"transformer\.resblocks\.(\d+)\."))
    if family == "sd2":
        layers -= 1  # SD2 conditions on the penultimate layer; diffusers' model stops there
    config = _text_config(template(f"{family}/{component}/config.json"), vocab, positions, hidden, inner, layers)
    if (projection := prefix + "text_projection") in shapes:
        config["projection_dim"] = shapes[projection][1]
    return config


def infer_checkpoint(shapes: Shapes) -> Architecture:
    """The architecture of a full checkpoint (UNet + VAE + text encoders), validated key by key."""
    family = detect_family(shapes)
    arch = Architecture(family, prediction=from_keys(shapes))
    if family == "sdxl":
        arch.configs["text_encoder"] = clip_config(shapes, family, "text_encoder", ldm_keys.SDXL_CLIP_L_PREFIX)
        arch.configs["text_encoder_2"] = open_clip_config(shapes, family, "text_encoder_2",
                                                          ldm_keys.SDXL_OPEN_CLIP_PREFIX)
        if arch.configs["text_encoder"]["hidden_size"] == arch.configs["text_encoder_2"]["hidden_size"]:
            raise CheckpointError("SDXL text encoders of equal width cannot be told apart")
    elif family == "sd2":
        arch.configs["text_encoder"] = open_clip_config(shapes, family, "text_encoder", ldm_keys.SD2_OPEN_CLIP_PREFIX)
    else:
        arch.configs["text_encoder"] = clip_config(shapes, family, "text_encoder", ldm_keys.CLIP_PREFIX)
    unet = unet_config(shapes, family)
    if unet["in_channels"] != 4:
        raise CheckpointError(f"UNet with {unet['in_channels']} input channels (inpainting or other special "
                              "checkpoints are not supported)")
    if family == "sdxl":
        pooled = arch.configs["text_encoder_2"]["projection_dim"]
        extra, remainder = divmod(unet["projection_class_embeddings_input_dim"] - pooled, 6)
        if remainder or extra <= 0:
            raise CheckpointError("SDXL UNet added-conditioning width does not match the text encoder")
        unet["addition_time_embed_dim"] = extra
    arch.configs["unet"] = unet
    arch.configs["vae"] = vae_config(shapes, family, ldm_keys.VAE_PREFIX)
    check_shapes(shapes, expected_checkpoint_shapes(arch), "checkpoint")
    return arch


def infer_vae(shapes: Shapes, family: str) -> dict:
    """The config of a standalone VAE file (keys `encoder.…`/`decoder.…`, or with the checkpoint prefix)."""
    prefix = ldm_keys.VAE_PREFIX if ldm_keys.VAE_PREFIX + "encoder.conv_in.weight" in shapes else ""
    if prefix + "encoder.conv_in.weight" not in shapes:
        raise CheckpointError(f"not a VAE ({describe_keys(shapes)})")
    config = vae_config(shapes, family, prefix)
    check_shapes(shapes, expected_vae_shapes(config, prefix), "VAE")
    return config


def controlnet_prefix(shapes: Shapes) -> str:
    for prefix in (ldm_keys.CONTROLNET_PREFIX, ""):
        if prefix + "input_hint_block.0.weight" in shapes:
            return prefix
    raise CheckpointError(f"not a ControlNet in the original layout ({describe_keys(shapes)})")


def infer_controlnet(shapes: Shapes, family: str) -> dict:
    """The ControlNetModel config of a ControlNet single file (original layout, `control_model.` optional)."""
    prefix = controlnet_prefix(shapes)
    base = template("controlnet_sd15/config.json")
    if family != "sd15":
        base.update(use_linear_projection=True)
    config = unet_config(shapes, family, prefix, base=base)
    config["conditioning_embedding_out_channels"] = [
        _shape(shapes, f"{prefix}input_hint_block.{i}.weight")[0] for i in (0, 4, 8, 12)]
    if family == "sdxl":
        config.update(addition_embed_type="text_time", addition_time_embed_dim=256)
    check_shapes(shapes, expected_controlnet_shapes(config, prefix), "ControlNet")
    return config


# ---------------------------------------------------------------------------------------------------- validation

def _meta_state_dict(build) -> dict:
    import torch

    with torch.device("meta"):
        return build().state_dict()


def _unet_model(config):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_config(config)


def _text_model(config):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cls = CLIPTextModelWithProjection if "CLIPTextModelWithProjection" in config.get("architectures", []) \
        else CLIPTextModel
    return cls(CLIPTextConfig(**{k: v for k, v in config.items() if not k.startswith("_")}))


def _shapes_of(state_dict: dict) -> Shapes:
    return {k: tuple(v.shape) for k, v in state_dict.items()}


def expected_vae_shapes(config: dict, prefix: str) -> Shapes:
    from diffusers import AutoencoderKL

    return _shapes_of(ldm_keys.vae_to_ldm(_meta_state_dict(lambda: AutoencoderKL.from_config(config)), config,
                                          prefix))


def expected_controlnet_shapes(config: dict, prefix: str) -> Shapes:
    from diffusers import ControlNetModel

    return _shapes_of(ldm_keys.unet_to_ldm(_meta_state_dict(lambda: ControlNetModel.from_config(config)), config,
                                           prefix))


def expected_checkpoint_shapes(arch: Architecture) -> Shapes:
    """Every tensor (name in the single-file layout -> shape) the models of `arch` need."""
    configs = arch.configs
    shapes = _shapes_of(ldm_keys.unet_to_ldm(_meta_state_dict(lambda: _unet_model(configs["unet"])),
                                             configs["unet"]))
    shapes.update(expected_vae_shapes(configs["vae"], ldm_keys.VAE_PREFIX))
    text = _meta_state_dict(lambda: _text_model(configs["text_encoder"]))
    if arch.family == "sdxl":
        shapes.update(_shapes_of(ldm_keys.clip_to_ldm(text, ldm_keys.SDXL_CLIP_L_PREFIX)))
        text_2 = _meta_state_dict(lambda: _text_model(configs["text_encoder_2"]))
        shapes.update(_shapes_of(ldm_keys.open_clip_to_ldm(text_2, ldm_keys.SDXL_OPEN_CLIP_PREFIX)))
    elif arch.family == "sd2":
        shapes.update(_shapes_of(ldm_keys.open_clip_to_ldm(text, ldm_keys.SD2_OPEN_CLIP_PREFIX)))
    else:
        shapes.update(_shapes_of(ldm_keys.clip_to_ldm(text, ldm_keys.CLIP_PREFIX)))
    return shapes


def check_shapes(actual: Shapes, expected: Shapes, what: str) -> None:
    """CheckpointError naming the first missing or mis-shaped tensors."""
    missing = [k for k in expected if k not in actual]
    wrong = [k for k in expected if k in actual and tuple(actual[k]) != tuple(expected[k])]
    if missing or wrong:
        problems = [f"missing {k}" for k in missing[:3]] + [
            f"{k} has shape {list(actual[k])}, expected {list(expected[k])}" for k in wrong[:3]]
        count = len(missing) + len(wrong)
        raise CheckpointError(f"incomplete or inconsistent {what}: {count} tensor(s) wrong, e.g. "
                              + "; ".join(problems))
