"""Recognise a weights file's kind and base model from its tensor names and shapes, without loading weights.

safetensors: only the header is read (8-byte little-endian length + JSON table of tensors).
Pickle formats (.ckpt/.pt/.pth/.bin): loaded with `torch.load(weights_only=True)`, which refuses any
pickle that would construct arbitrary objects or run code; memory-mapped when the file is a zip archive.
"""

import json
import math
import os
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from core.updates import InvalidValue
from engine import prediction
from engine.architecture import CONTEXT_WIDTH_FAMILY, TEXT_WIDTH_FAMILY, checkpoint_family, cross_attention_width
from engine.upscale import is_esrgan

SAFETENSORS_EXTENSIONS = {".safetensors", ".sft"}
PICKLE_EXTENSIONS = {".ckpt", ".pt", ".pth", ".bin"}
MODEL_EXTENSIONS = SAFETENSORS_EXTENSIONS | PICKLE_EXTENSIONS
MAX_HEADER_BYTES = 100 * 1024 * 1024
# Bits per element of the safetensors dtypes (safetensors 0.8 names them).
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E5M2FNUZ": 8, "F8_E4M3FNUZ": 8, "E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

VAE_PREFIXES = ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.")
# The library's base_model label of each of the engine's families (engine/architecture.py)
BASE_MODELS = {"sd15": "SD1.5", "sd2": "SD2.1", "sdxl": "SDXL"}
# Base-model labels of families SD-Host records (from Civitai, sidecars or D3) but does not render yet: a task on
# such a checkpoint is refused at submission (`unrendered_family`)
UNRENDERED_FAMILY_PREFIXES = ("flux", "sd 3", "sd3")
# Width of the text conditioning seen by cross-attention / text encoders, per base model.
CONTEXT_WIDTH_BASE = {width: BASE_MODELS[family] for width, family in CONTEXT_WIDTH_FAMILY.items()}
TEXT_WIDTH_BASE = {width: BASE_MODELS[family] for width, family in TEXT_WIDTH_FAMILY.items()}


class InvalidModelFile(ValueError):
    """The file is not a readable safetensors/pickle weights file, or is unsafe to load."""


# A checkpoint's prediction settings, as metadata keys the render reads (docs/rendering.md "v-prediction and zero
# terminal SNR"): set at import from the file's `v_pred` / `ztsnr` keys or a `.yaml` sidecar, changed by D3
PREDICTION_TYPE_KEY = "prediction_type"
ZERO_TERMINAL_SNR_KEY = "zero_terminal_snr"


@dataclass(frozen=True)
class Inspection:
    model_type: str | None  # None: layout not recognised
    base_model: str | None
    metadata: dict = field(default_factory=dict)  # what the file says beyond its kind (a checkpoint's prediction)


def unrendered_family(base_model) -> str | None:
    """Why a checkpoint of base model `base_model` cannot render (Flux.1, SD 3 / 3.5: not supported yet), or None."""
    label = (base_model or "").strip()
    if label.casefold().startswith(UNRENDERED_FAMILY_PREFIXES):
        return f"its base model {label} is a family SD-Host does not render yet (SD1.5, SD2.1 and SDXL only)"
    return None


def prediction_metadata(found: prediction.Prediction) -> dict:
    """The metadata keys of a checkpoint's prediction settings; none for a plain epsilon model."""
    if found.is_default:
        return {}
    return {PREDICTION_TYPE_KEY: found.prediction_type, ZERO_TERMINAL_SNR_KEY: found.zero_terminal_snr}


def prediction_type_value(value):
    if value not in prediction.PREDICTION_TYPES:
        raise InvalidValue(f"must be one of {', '.join(prediction.PREDICTION_TYPES)} (or null: as the file says)")
    return value


def zero_terminal_snr_value(value):
    if not isinstance(value, bool):
        raise InvalidValue("must be true or false (or null: as the file says)")
    return value


def prediction_settings(metadata) -> tuple[str | None, bool | None]:
    """(prediction_type, zero_terminal_snr) a model's metadata sets for rendering; None where it sets no valid
    value (the engine then reads the file)."""
    metadata = metadata if isinstance(metadata, dict) else {}
    kind = metadata.get(PREDICTION_TYPE_KEY)
    snr = metadata.get(ZERO_TERMINAL_SNR_KEY)
    return (kind if kind in prediction.PREDICTION_TYPES else None, snr if isinstance(snr, bool) else None)


def tensor_shapes(path, ext=None) -> tuple[dict, dict]:
    """({tensor name: shape}, file-level metadata) of a weights file; `ext` overrides the path's suffix."""
    path = Path(path)
    ext = (ext or path.suffix).lower()
    if ext in SAFETENSORS_EXTENSIONS:
        return safetensors_shapes(path)
    if ext in PICKLE_EXTENSIONS:
        return pickle_shapes(path), {}
    raise InvalidModelFile(
        f"Unsupported file extension '{ext}'; expected one of {', '.join(sorted(MODEL_EXTENSIONS))}"
    )


def safetensors_shapes(path) -> tuple[dict, dict]:
    """Shapes and metadata from a safetensors header, which must describe the file exactly: each tensor's
    dtype and shape fill its byte range, and the ranges tile the data that follows the header."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise InvalidModelFile("File too short for a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length < 2 or length > min(MAX_HEADER_BYTES, size - 8):
            raise InvalidModelFile("Not a safetensors file (bad header length)")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidModelFile(f"Not a safetensors file (header is not JSON: {exc})") from None
        except RecursionError:
            raise InvalidModelFile("Not a safetensors file (header JSON is nested too deeply)") from None
    if not isinstance(header, dict):
        raise InvalidModelFile("Not a safetensors file (header is not an object)")
    metadata = header.pop("__metadata__", None) or {}
    shapes, ranges = {}, []
    for name, info in header.items():
        shapes[name], begin, end = tensor_entry(name, info)
        ranges.append((begin, end))
    position = 0
    for begin, end in sorted(ranges):
        if begin != position:
            raise InvalidModelFile("Corrupt safetensors file (tensor data ranges overlap or leave gaps)")
        position = end
    if position != size - 8 - length:
        raise InvalidModelFile("Truncated or corrupt safetensors file (tensor data does not match the file size)")
    return shapes, metadata if isinstance(metadata, dict) else {}


def tensor_entry(name, info) -> tuple[tuple, int, int]:
    """(shape, begin, end) of one header entry, whose dtype and shape must fill exactly its byte range."""
    try:
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
            raise ValueError
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError
    except (TypeError, KeyError, ValueError):
        raise InvalidModelFile(f"Not a safetensors file (bad entry for tensor '{name}')") from None
    if dtype not in DTYPE_BITS:
        raise InvalidModelFile(f"Unsupported safetensors dtype {dtype!r} of tensor '{name}'")
    if math.prod(shape) * DTYPE_BITS[dtype] != (end - begin) * 8:
        raise InvalidModelFile(
            f"Corrupt safetensors file (tensor '{name}' of shape {shape} and dtype {dtype} does not fill its "
            f"{end - begin} bytes)"
        )
    return tuple(shape), begin, end


def pickle_shapes(path) -> dict:
    import pickle

    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError,
            ImportError, TypeError, KeyError, IndexError, struct.error, zipfile.BadZipFile) as exc:
        raise InvalidModelFile(pickle_refusal_message(exc)) from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    shapes = {}
    flatten_tensors(loaded, "", shapes, torch.Tensor)
    if not shapes:
        raise InvalidModelFile("The file holds no tensors")
    return shapes


PICKLE_RULE = ("From pickle formats (.ckpt, .pt, .pth, .bin) only plain tensors are loaded, never other Python "
               "objects (loading those can run code); a .safetensors version of the model needs no such check.")
TORCH_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation")


def pickle_refusal_message(exc: BaseException) -> str:
    """Why torch.load(weights_only=True) refused a file, in our words.

    torch's own message advises loading again with `weights_only=False` (or allowlisting the object), which would
    run whatever code the file carries: that advice is never passed on, only what was found."""
    lines = [line.split("WeightsUnpickler error:")[-1].strip() for line in str(exc).splitlines()]
    detail = " ".join(line for line in lines if line and not line.startswith(TORCH_BOILERPLATE))
    found = re.search(r"GLOBAL ([\w.]+)", detail)
    if found:
        return f"Refusing to load the file: it holds Python objects besides tensors ({found.group(1)}). {PICKLE_RULE}"
    detail = re.split(r"(?<=[.?!])\s", detail, maxsplit=1)[0].rstrip(".")  # the first sentence: what went wrong
    if isinstance(exc, EOFError) or not detail or "weights_only" in detail or "safe_globals" in detail:
        detail = "it ends early" if isinstance(exc, EOFError) else type(exc).__name__
    return f"Refusing to load the file: it is not a readable PyTorch weights file ({detail}). {PICKLE_RULE}"


def flatten_tensors(value, prefix, out, tensor_type):
    if isinstance(value, tensor_type):
        out[prefix] = tuple(value.shape)
    elif isinstance(value, dict):
        for key, item in value.items():
            flatten_tensors(item, f"{prefix}.{key}" if prefix else str(key), out, tensor_type)


def inspect_model_file(path, ext=None) -> Inspection:
    """Kind and base model of a weights file (model_type None when the layout is unknown)."""
    shapes, metadata = tensor_shapes(path, ext)
    return classify(shapes, metadata)


# --- classification ---------------------------------------------------------------------------

def classify(shapes: dict, metadata: dict | None = None) -> Inspection:
    keys = list(shapes)
    hint = base_from_metadata(metadata or {})

    def has_prefix(*prefixes):
        return any(k.startswith(prefixes) for k in keys)

    if is_upscaler(keys):
        return Inspection("upscaler", None)
    if has_prefix("control_model.", "controlnet_") or any("input_hint_block" in k for k in keys):
        return Inspection("controlnet", context_width_base(shapes) or hint)
    if has_prefix("model.diffusion_model."):
        return Inspection("checkpoint", checkpoint_base(shapes) or hint,
                          prediction_metadata(prediction.from_keys(shapes)))
    if has_prefix("lora_unet_", "lora_te") or any(
        marker in k for k in keys for marker in (".lora_A.", ".lora_B.", ".lora_down.", ".lora_up.", ".lora.down.")
    ):
        return Inspection("lora", lora_base(shapes) or hint)
    if keys and (all(k.startswith(VAE_PREFIXES) for k in keys) or all(k.startswith("first_stage_model.") for k in keys)):
        return Inspection("vae", hint)
    embedding = embedding_base(shapes)
    if embedding is not False:
        return Inspection("embedding", embedding or hint)
    return Inspection(None, hint)


def is_upscaler(keys) -> bool:
    """ESRGAN-family super-resolution weights (D38), also inside basicsr's `params` / `params_ema` wrapper."""
    for wrapper in ("params_ema.", "params."):
        if keys and all(k.startswith(wrapper) for k in keys):
            keys = [k.removeprefix(wrapper) for k in keys]
    return is_esrgan(keys)


def checkpoint_base(shapes):
    """The base model of a full checkpoint: the engine's family of it (the one the renderer uses)."""
    family = checkpoint_family(shapes)
    return BASE_MODELS[family] if family else None


def context_width_base(shapes):
    """Base model from the cross-attention key projection's input width (UNet or ControlNet)."""
    return CONTEXT_WIDTH_BASE.get(cross_attention_width(shapes))


def lora_base(shapes):
    keys = list(shapes)
    if any(k.startswith(("lora_te1_", "lora_te2_", "text_encoder_2.")) for k in keys):
        return "SDXL"
    for key, shape in shapes.items():
        is_down = ".lora_down." in key or ".lora_A." in key or ".lora.down." in key
        if is_down and key.startswith(("lora_te", "text_encoder.")) and len(shape) == 2:
            if base := TEXT_WIDTH_BASE.get(shape[1]):
                return base
    for key, shape in shapes.items():
        is_down = ".lora_down." in key or ".lora_A." in key or ".lora.down." in key
        if is_down and ("attn2_to_k" in key or "attn2.to_k" in key) and len(shape) == 2:
            if base := CONTEXT_WIDTH_BASE.get(shape[1]):
                return base
    return None


def embedding_base(shapes):
    """Base of a textual-inversion embedding, None if unknown, False if the layout is not an embedding."""
    if "clip_l" in shapes and "clip_g" in shapes:
        return "SDXL"
    vectors = [shape for key, shape in shapes.items() if key == "emb_params" or key.startswith("string_to_param.")]
    if not vectors and len(shapes) == 1:  # diffusers learned_embeds.bin: {"<token>": vector}
        vectors = [shape for shape in shapes.values() if len(shape) in (1, 2) and shape[-1] in (768, 1024)]
    if not vectors:
        return False
    return TEXT_WIDTH_BASE.get(vectors[0][-1]) if vectors[0] else None


def base_from_metadata(metadata: dict):
    """Base model from trainer metadata (kohya `ss_base_model_version`, `modelspec.architecture`)."""
    text = f"{metadata.get('ss_base_model_version', '')} {metadata.get('modelspec.architecture', '')}".lower()
    if "xl" in text:
        return "SDXL"
    if "v2" in text:
        return "SD2.1"
    if "v1" in text:
        return "SD1.5"
    return None
