"""The data the worker hands to the engine and gets back (plain frozen dataclasses)."""

import secrets
from dataclasses import dataclass

from .samplers import DEFAULT_SAMPLER


@dataclass(frozen=True)
class ModelFile:
    """A file of the model library."""

    path: str
    sha256: str
    name: str
    kind: str                       # "checkpoint" | "vae" | "lora" | "embedding" | "controlnet"
    base_model: str | None = None


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
class RenderRequest:
    checkpoint: ModelFile
    prompt: str
    negative_prompt: str = ""
    width: int = 512
    height: int = 512
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str = DEFAULT_SAMPLER
    seed: int = 0                   # resolved seed (>= 0); image i uses seed + i
    batch_size: int = 1
    vae: ModelFile | None = None
    loras: tuple = ()               # LoraSpec...
    embeddings: tuple = ()          # EmbeddingSpec...
    controlnets: tuple = ()         # ControlNetSpec...
    clip_skip: int = 1              # A1111's "Clip skip" (D33): 1 = the last text-encoder layer


@dataclass(frozen=True)
class RenderedImage:
    png: bytes
    seed: int
    parameters: str
    width: int
    height: int


MAX_SEED = 2**32 - 1


def random_seed() -> int:
    """A fresh random seed in WebUI's range (0..2**32-1)."""
    return secrets.randbelow(MAX_SEED + 1)
