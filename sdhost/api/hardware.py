"""What the render device is, as detected."""

from functools import lru_cache


@lru_cache(maxsize=4)
def hardware_facts(requested_device=None):
    import torch

    gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if requested_device:
        device = requested_device.split(":")[0]
    elif gpu_count:
        device = "cuda"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = "mps"
    else:
        device = "cpu"
    memory_gb = 0
    if device == "cuda" and gpu_count:
        memory_gb = round(torch.cuda.get_device_properties(0).total_memory / 1024**3, 1)
    return {"device": device, "gpu_count": gpu_count, "memory_gb": memory_gb}
