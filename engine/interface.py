"""The data the worker hands to the engine and gets back (plain frozen dataclasses)."""

import secrets
from dataclasses import dataclass

from .a1111.names import DEFAULT_SAMPLER, DEFAULT_SCHEDULER

DEFAULT_HIRES_STRENGTH = 0.7  # the hires fix's second pass, when a request names none (D37)


@dataclass(frozen=True)
class ModelFile:
    """A file of the model library."""

    path: str
    sha256: str
    name: str
    kind: str                       # "checkpoint" | "vae" | "lora" | "embedding" | "controlnet" | "upscaler"
    base_model: str | None = None
    # checkpoints: the library's per-model prediction settings (engine/prediction.py); None: as the file says
    prediction_type: str | None = None      # "epsilon" | "v_prediction"
    zero_terminal_snr: bool | None = None


@dataclass(frozen=True)
class LoraSpec:
    model: ModelFile
    weight: float = 1.0


@dataclass(frozen=True)
class EmbeddingSpec:
    model: ModelFile
    token: str                      # the word that triggers it in prompts (D30)


@dataclass(frozen=True)
class ControlNetSpec:
    model: ModelFile
    image_path: str
    weight: float = 1.0


@dataclass(frozen=True)
class HiresSpec:
    """The second pass of a hires fix (D37): upscale to width x height, then refine image to image."""

    width: int                      # final size (multiples of 8)
    height: int
    upscaler: str = "Latent"        # "Latent" | "Latent (nearest-exact)" | "Lanczos" | an upscaler model's name
    upscaler_model: ModelFile | None = None
    steps: int = 0                  # 0: the request's steps
    denoising_strength: float = DEFAULT_HIRES_STRENGTH
    scale: float | None = None      # as submitted, for the PNG chunk (None when a size was given)


@dataclass(frozen=True)
class RenderRequest:
    checkpoint: ModelFile
    prompt: str
    negative_prompt: str = ""
    width: int = 512
    height: int = 512
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str = DEFAULT_SAMPLER
    scheduler: str = DEFAULT_SCHEDULER  # A1111's schedule type, by label (engine/samplers.py)
    seed: int = 0                   # resolved seed (>= 0); image i uses seed + i
    batch_size: int = 1
    vae: ModelFile | None = None
    loras: tuple = ()               # LoraSpec...
    embeddings: tuple = ()          # EmbeddingSpec...
    controlnets: tuple = ()         # ControlNetSpec...
    clip_skip: int = 1              # A1111's "Clip skip" (D33): 1 = the last text-encoder layer
    init_image_path: str | None = None  # image to image (D36): resized and centre-cropped to width x height
    mask_path: str | None = None        # with init_image_path: inpainting (white = repaint, black = keep)
    mask_blur: int = 4
    denoising_strength: float = 0.75
    hires: HiresSpec | None = None      # D37; text to image only


@dataclass(frozen=True)
class UpscaleRequest:
    """Upscale one stored image (D38): with an upscaler model, else Lanczos."""

    image_path: str
    scale: float = 2.0
    upscaler_model: ModelFile | None = None


@dataclass(frozen=True)
class RenderedImage:
    png: bytes
    seed: int | None                # None for an upscaled image
    parameters: str
    width: int
    height: int


RANDOM_SEED_MAX = 2**32 - 1  # WebUI's range of random seeds (a submitted seed may be larger: parameters.MAX_SEED)


def random_seed() -> int:
    """A fresh random seed in WebUI's range (0..2**32-1)."""
    return secrets.randbelow(RANDOM_SEED_MAX + 1)
