"""Loading single-file models into diffusers objects, fully offline.

Each load infers the architecture from the file (see architecture.py), writes the matching diffusers config
folder to a temporary directory and calls `from_single_file(path, config=folder, local_files_only=True)`;
tokenizers come from tokenizer.py, so nothing is ever fetched from the network.
"""

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import architecture, files, prediction
from .architecture import Architecture
from .errors import CheckpointError
from .tokenizer import clip_tokenizer


@dataclass
class LoadedCheckpoint:
    """A pipeline and the architecture it was built from."""

    pipe: object
    arch: Architecture


@contextlib.contextmanager
def quiet_loading():
    """Silence diffusers' and transformers' loading progress bars and advice."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    levels = [(lib, lib.get_verbosity()) for lib in (diffusers_logging, transformers_logging)]
    for lib, _ in levels:
        lib.set_verbosity_error()
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, level in levels:
            lib.set_verbosity(level)
            lib.enable_progress_bar()


def _existing(path: str) -> str:
    if not Path(path).is_file():
        raise CheckpointError(f"model file not found: {path}")
    return str(path)


def pipeline_class(family: str, controlnet: bool = False):
    import diffusers

    name = ("StableDiffusionXL" if family == "sdxl" else "StableDiffusion") + ("ControlNet" if controlnet else "")
    return getattr(diffusers, name + "Pipeline")


def pipeline_kwargs(family: str) -> dict:
    """Constructor arguments besides the components (no safety checker: D30)."""
    return {} if family == "sdxl" else {"requires_safety_checker": False}


def load_checkpoint(path: str, dtype) -> LoadedCheckpoint:
    """A StableDiffusion(XL)Pipeline on the CPU from a single-file checkpoint; CheckpointError if unusable."""
    from diffusers import DDIMScheduler

    path = _existing(path)
    shapes = files.read_shapes(path)
    arch = architecture.infer_checkpoint(shapes)
    arch.prediction = prediction.detect(shapes, path)  # the keys, or a `.yaml` sidecar beside the file
    components = {"scheduler": DDIMScheduler.from_config(arch.scheduler_config)}  # replaced for each render
    if arch.family == "sdxl":
        components.update(tokenizer=clip_tokenizer(), tokenizer_2=clip_tokenizer(pad_token="!"))
    else:
        components.update(tokenizer=clip_tokenizer(pad_token="!" if arch.family == "sd2" else "<|endoftext|>"),
                          safety_checker=None, feature_extractor=None)
    with tempfile.TemporaryDirectory(prefix="sdhost-config-") as folder, quiet_loading():
        arch.write(Path(folder))
        try:
            pipe = pipeline_class(arch.family).from_single_file(
                path, config=folder, local_files_only=True, torch_dtype=dtype, **components,
                **pipeline_kwargs(arch.family))
        except CheckpointError:
            raise
        except Exception as exc:  # diffusers reports damaged files with many exception types
            raise CheckpointError(f"{Path(path).name}: cannot be loaded ({exc})") from exc
    pipe.set_progress_bar_config(disable=True)
    return LoadedCheckpoint(pipe, arch)


def load_vae(path: str, family: str, dtype):
    """An AutoencoderKL from a standalone VAE file, configured for checkpoints of `family`."""
    from diffusers import AutoencoderKL

    return _load_component(AutoencoderKL, "vae", architecture.infer_vae, path, family, dtype)


def load_controlnet(path: str, family: str, dtype):
    """A ControlNetModel from a ControlNet single file in the original layout."""
    from diffusers import ControlNetModel

    return _load_component(ControlNetModel, "controlnet", architecture.infer_controlnet, path, family, dtype)


def _load_component(model_class, subfolder: str, infer_config, path: str, family: str, dtype):
    """One diffusers model from a single file, its config inferred from the file's tensor shapes."""
    path = _existing(path)
    config = infer_config(files.read_shapes(path), family)
    with tempfile.TemporaryDirectory(prefix="sdhost-config-") as folder, quiet_loading():
        Architecture(family, {subfolder: config}).write(Path(folder))
        try:
            return model_class.from_single_file(path, config=folder, subfolder=subfolder,
                                                local_files_only=True, torch_dtype=dtype)
        except Exception as exc:
            label = "a VAE" if subfolder == "vae" else "a ControlNet"
            raise CheckpointError(f"{Path(path).name}: cannot be loaded as {label} ({exc})") from exc


def read_lora(path: str) -> dict:
    """A LoRA state dict (kohya, diffusers or PEFT layout as diffusers understands them)."""
    state = files.read_state_dict(_existing(path))
    if not any("lora" in key for key in state):
        raise CheckpointError(f"{Path(path).name}: not a LoRA ({architecture.describe_keys(files_shapes(state))})")
    return state


def read_embedding(path: str, family: str) -> dict:
    """Textual-inversion vectors per text encoder: {'text_encoder': T} or, for SDXL, also 'text_encoder_2'."""
    import torch

    path = _existing(path)
    if Path(path).suffix.lower() in files.SAFETENSORS_SUFFIXES:
        data = files.read_state_dict(path)
    else:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(f"{Path(path).name}: not a readable weights-only PyTorch file ({exc})") from exc
    if isinstance(data.get("string_to_param"), dict):      # WebUI .pt layout
        data = {"emb_params": next(iter(data["string_to_param"].values()))}
    if family == "sdxl":
        if not {"clip_l", "clip_g"} <= data.keys():
            raise CheckpointError(f"{Path(path).name}: not an SDXL embedding (needs clip_l and clip_g)")
        vectors = {"text_encoder": data["clip_l"], "text_encoder_2": data["clip_g"]}
    else:
        tensors = [v for v in data.values() if isinstance(v, torch.Tensor)]
        if "emb_params" in data:
            tensors = [data["emb_params"]]
        if len(tensors) != 1:
            raise CheckpointError(f"{Path(path).name}: not a textual-inversion embedding")
        vectors = {"text_encoder": tensors[0]}
    return {name: (v if v.ndim == 2 else v.reshape(1, -1)).float() for name, v in vectors.items()}


def files_shapes(state: dict) -> dict:
    return {k: tuple(getattr(v, "shape", ())) for k, v in state.items()}
