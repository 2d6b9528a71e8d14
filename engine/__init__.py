"""The render engine: real diffusers pipelines from single-file checkpoints. No Django imports here.

The worker builds a RenderRequest from a task and calls `RenderEngine.render`; see docs/rendering.md.
"""

from .a1111.names import SAMPLER_NAMES
from .engine import RenderEngine, pick_device
from .errors import CheckpointError, RenderCancelled
from .fast_paths import FastPaths
from .interface import (
    ControlNetSpec,
    EmbeddingSpec,
    HiresSpec,
    LoraSpec,
    ModelFile,
    RenderedImage,
    RenderRequest,
    UpscaleRequest,
    random_seed,
)
from .previews import PREVIEW_METHODS, PreviewFrame, PreviewSettings

__all__ = [
    "CheckpointError", "ControlNetSpec", "EmbeddingSpec", "FastPaths", "HiresSpec", "LoraSpec", "ModelFile", "PREVIEW_METHODS",
    "PreviewFrame", "PreviewSettings", "RenderCancelled",
    "RenderEngine", "RenderRequest", "RenderedImage", "SAMPLER_NAMES", "UpscaleRequest", "pick_device", "random_seed",
]
