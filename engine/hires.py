"""Hires fix (D37): a text-to-image pass at width x height, an upscale, then an image-to-image pass at the final size.

Latent upscalers resize the first pass's latents (bilinear or nearest-exact, as A1111) and hand them to the second
pass without a VAE round trip; pixel upscalers (Lanczos, an upscaler model) work on the decoded images, a model's
output being resized to the exact final size with Lanczos. The second pass runs ceil(hires steps x strength)
steps; progress counts both passes as one run (the total is estimated until the second pass starts), and a cancel
is honoured in either pass and between them.
"""

import dataclasses

from . import img2img
from .errors import RenderCancelled

LATENT_UPSCALERS = {"Latent": "bilinear", "Latent (nearest-exact)": "nearest-exact"}
PIXEL_UPSCALERS = ("Lanczos",)
UPSCALER_NAMES = (*LATENT_UPSCALERS, *PIXEL_UPSCALERS)


def second_pass_request(request):
    """The request of the second pass: final size, hires steps and strength, the first pass's output as init."""
    spec = request.hires
    return dataclasses.replace(request, width=spec.width, height=spec.height, steps=spec.steps or request.steps,
                               denoising_strength=spec.denoising_strength, hires=None, init_image_path=None,
                               mask_path=None)


def render(engine, loaded, pipe, request, extras, seeds, on_progress, should_cancel) -> list:
    """Both passes; PIL images at the final size."""
    spec = request.hires
    second = second_pass_request(request)
    second_steps = img2img.denoising_steps(second.steps, second.denoising_strength)
    latent_mode = LATENT_UPSCALERS.get(spec.upscaler) if spec.upscaler_model is None else None
    first_total = [0]

    def first_progress(done, total):
        first_total[0] = total
        if on_progress is not None:  # the sampler's calls per step (total / steps) apply to the second pass too
            on_progress(done, total + round(second_steps * total / request.steps))

    def second_progress(done, total):
        if on_progress is not None:
            on_progress(first_total[0] + done, first_total[0] + total)

    first = engine._run(pipe, request, extras, seeds, first_progress, should_cancel,
                        img2img.pipeline_inputs(request, "txt2img", output_type="latent" if latent_mode else "pil"))
    if should_cancel is not None and should_cancel():
        raise RenderCancelled()
    if latent_mode:
        import torch.nn.functional as F

        upscaled = F.interpolate(first, size=(second.height // 8, second.width // 8), mode=latent_mode)
    else:
        upscaled = [upscale_image(engine, image, spec, second.width, second.height) for image in first]

    mode = "img2img" if second_steps < second.steps else "txt2img"
    if second_steps == 0:
        return img2img.decode_latents(pipe, upscaled) if latent_mode else upscaled
    second_pipe = engine._pipeline_for(second, loaded, mode)
    return engine._run(second_pipe, second, extras, seeds, second_progress, should_cancel,
                       img2img.pipeline_inputs(second, mode, upscaled))


def upscale_image(engine, image, spec, width: int, height: int):
    """A decoded first-pass image at width x height through the spec's pixel upscaler."""
    from PIL import Image

    if spec.upscaler_model is not None:
        image = engine._upscaler(spec.upscaler_model).upscale(image, max(width / image.width, height / image.height))
    if image.size == (width, height):
        return image
    return image.resize((width, height), Image.Resampling.LANCZOS)
