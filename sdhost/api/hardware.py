"""What the render device is, as detected, and the memory it has."""

import os
from functools import lru_cache

GB = 1024**3  # the sizes are reported in GiB, as `memory_gb` always was


def system_ram_bytes() -> int | None:
    """The machine's physical memory (None where the OS does not say: only POSIX systems are asked)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def in_gb(size: int | None) -> float | None:
    return None if size is None else round(size / GB, 1)


@lru_cache(maxsize=4)
def hardware_facts(requested_device=None):
    """`device`, `gpu_count`; `memory_gb` of the generation device (the GPU's memory on CUDA, system RAM on the CPU
    and on Apple's MPS, whose GPU shares it); `ram_gb` of the machine; `vram_gb` of the (generation) GPU, or None
    without one."""
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
    ram_gb = in_gb(system_ram_bytes())
    vram_gb = None
    if gpu_count:
        index = requested_device.split(":")[1] if device == "cuda" and ":" in (requested_device or "") else "0"
        vram_gb = in_gb(torch.cuda.get_device_properties(int(index) if index.isdigit() else 0).total_memory)
    memory_gb = vram_gb if device == "cuda" and vram_gb is not None else ram_gb
    return {"device": device, "gpu_count": gpu_count, "memory_gb": memory_gb or 0, "ram_gb": ram_gb,
            "vram_gb": vram_gb}
