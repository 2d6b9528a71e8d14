"""Reading model files (.safetensors and weights-only .ckpt/.pt) as state dicts or as key -> shape maps."""

from pathlib import Path

from .errors import CheckpointError

SAFETENSORS_SUFFIXES = {".safetensors", ".sft"}


def read_shapes(path: str) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape, without reading the weights of a safetensors file."""
    if Path(path).suffix.lower() in SAFETENSORS_SUFFIXES:
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt") as f:
                return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
        except Exception as exc:  # safetensors raises several types for a damaged header
            raise CheckpointError(f"{Path(path).name}: not a readable safetensors file ({exc})") from exc
    return {key: tuple(t.shape) for key, t in read_state_dict(path).items()}


def read_state_dict(path: str) -> dict:
    """All tensors of the file, on the CPU. Pickles holding anything but tensors are refused."""
    name = Path(path).name
    if Path(path).suffix.lower() in SAFETENSORS_SUFFIXES:
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as exc:
            raise CheckpointError(f"{name}: not a readable safetensors file ({exc})") from exc
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{name}: not a readable weights-only PyTorch file ({exc})") from exc
    while isinstance(data, dict) and (inner := _wrapped(data)) is not None:
        data = inner
    if not isinstance(data, dict):
        raise CheckpointError(f"{name}: the file holds no state dict")
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}


def _wrapped(data: dict):
    """The state dict inside a training wrapper (Lightning's `state_dict`, basicsr's `params_ema` / `params`)."""
    for key in ("state_dict", "params_ema", "params"):
        if isinstance(data.get(key), dict):
            return data[key]
    return None
