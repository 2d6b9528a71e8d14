"""What a render mode (`img2img.py`, `hires.py`) gets from the engine: the passes of one render.

`RenderEngine.render_batch` loads the checkpoint, applies the batch's LoRAs and embeddings, then hands the mode a
`Passes` object bound to that render (its requests, seeds, progress and cancel checks). The mode decides which
passes run with which inputs; the engine runs them. Nothing else of the engine is the mode's business.
"""

from typing import Protocol

from .interface import ModelFile, RenderRequest
from .upscale import Upscaler


class Passes(Protocol):
    seeds: list[int]  # one per image of the batch, in order

    def run(self, pipe, request: RenderRequest, inputs: dict, on_progress=None) -> list:
        """One pass over every image of the batch on `pipe`: each request's prompts, seeds and CFG, the sampler,
        steps and conditioning of `request`, and `inputs` (`img2img.pipeline_inputs`: size, image and output
        arguments). PIL images, or latents for output_type "latent". `on_progress(done, total)` replaces the
        render's own progress report (for a mode that counts several passes as one)."""

    def pipeline_for(self, request: RenderRequest, mode: str):
        """A pipeline for `mode` (`img2img.MODES`) on the loaded checkpoint, with the request's VAE and
        ControlNets, sharing the loaded weights."""

    def upscaler(self, model: ModelFile) -> Upscaler:
        """The loaded upscaler model, on the engine's device."""

    def report(self, done: int, total: int) -> None:
        """The render's progress report."""

    def cancelled(self) -> bool:
        """Whether the render was cancelled (all of its requests)."""
