"""Live previews of a render in progress (issue 26): small images of the latents every N sampling steps.

`approx` maps the four model-space latent channels to RGB with a fixed linear table per family, as ComfyUI's
`latent_formats.py` does (rgb = latent . F + bias, then (v + 1) / 2 clamped to 0..255): one tiny matrix product
per preview, an image at the latent's size (1/8 of the render: 64 x 64 for 512 x 512).

What is previewed: the sampler's prediction of the clean image (x0) where the scheduler keeps it (the DPM-Solver
multistep samplers in data-prediction mode, DPM++ 2M / 2M SDE with or without Karras, and UniPC: their
`model_outputs[-1]`), else the latents after the step as diffusers' step callback hands them (x at the next noise
level: noisier early on, as A1111's "Approx cheap" on a k-diffusion sampler's current sample would be).
"""

from __future__ import annotations

from dataclasses import dataclass

PREVIEW_METHODS = ("off", "approx")

# ComfyUI latent_formats.py: rows are latent channels, columns R, G, B; applied to the model-space latent
# (the VAE latent times its scaling factor), as the pipeline's latents are. SD 2.x uses SD 1.5's table there.
_SD15 = ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350), (-0.2829, 0.1762, 0.2721), (-0.2120, -0.2616, -0.7177))
_SDXL = ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068), (0.1076, 0.1111, -0.0362), (-0.3165, -0.2492, -0.2188))
LATENT_RGB_FACTORS: dict[str, tuple] = {
    "sd15": (_SD15, (0.0, 0.0, 0.0)),
    "sd2": (_SD15, (0.0, 0.0, 0.0)),
    "sdxl": (_SDXL, (0.1084, -0.0175, -0.0011)),
}


@dataclass(frozen=True)
class PreviewSettings:
    """How a render makes previews: `method` (PREVIEW_METHODS but "off") every `every` sampling steps."""

    method: str = "approx"
    every: int = 5

    def due(self, step: int) -> bool:
        """Whether sampling step `step` (1-based, within one pass) gets a preview."""
        return self.every > 0 and step % self.every == 0


@dataclass(frozen=True)
class PreviewFrame:
    """The preview of one request's images at a step: PIL images (one per image of the request, in seed order),
    the model-space tensor they were made from (`source`: "x0" or "latents") and a sequence number (1, 2, ...
    over the whole render, hires passes included)."""

    sequence: int
    images: list
    latents: object
    source: str


def preview_source(scheduler, latents):
    """(tensor, "x0") when the scheduler holds its clean-image prediction for this step, else (latents, "latents")."""
    config = scheduler.config
    keeps_x0 = config.get("algorithm_type") in ("dpmsolver++", "sde-dpmsolver++") or config.get("predict_x0") is True
    outputs = getattr(scheduler, "model_outputs", None)
    if keeps_x0 and outputs and outputs[-1] is not None and outputs[-1].shape == latents.shape:
        return outputs[-1], "x0"
    return latents, "latents"


def approx_rgb(latents, family: str):
    """uint8 tensor (batch, height, width, 3) on the CPU: the latents through the family's latent-to-RGB table."""
    import torch

    factors, bias = LATENT_RGB_FACTORS.get(family, LATENT_RGB_FACTORS["sd15"])
    with torch.no_grad():
        x = latents.detach().float()
        table = torch.tensor(factors, dtype=x.dtype, device=x.device)
        rgb = torch.einsum("bchw,cr->bhwr", x, table) + torch.tensor(bias, dtype=x.dtype, device=x.device)
        return ((rgb + 1) / 2).clamp(0, 1).mul(255).to(torch.uint8).cpu()


def approx_images(latents, family: str) -> list:
    """One PIL image per latent of the batch (`approx_rgb`)."""
    from PIL import Image

    return [Image.fromarray(row.numpy(), "RGB") for row in approx_rgb(latents, family)]
