"""Hires fix (D37): a text-to-image pass at width x height, an upscale, then an image-to-image pass at the final size.

Latent upscalers resize the first pass's latents (bilinear or nearest-exact, as A1111) and hand them to the second
pass without a VAE round trip; pixel upscalers (Lanczos, an upscaler model) work on the decoded images, a model's
output being resized to the exact final size with Lanczos. The second pass runs ceil(hires steps x strength)
steps; progress counts both passes as one run (the total is estimated until the second pass starts), and a cancel
is honoured in either pass and between them. The passes run through the engine's `passes.Passes`.
"""

import dataclasses

from . import img2img
from .a1111.names import LATENT_UPSCALERS, UPSCALER_NAMES
from .errors import RenderCancelled
from .passes import Passes


def second_pass_request(request):
    """The request of the second pass: final size, hires steps and strength, the first pass's output as init."""
    spec = request.hires
    return dataclasses.replace(request, width=spec.width, height=spec.height, steps=spec.steps or request.steps,
                               denoising_strength=spec.denoising_strength, hires=None, init_image_path=None,
                               mask_path=None)


def render(passes: Passes, pipe, request) -> list:
    """Both passes; PIL images at the final size. `pipe` is the first pass's (text to image) pipeline."""
    spec = request.hires
    second = second_pass_request(request)
    second_steps = img2img.denoising_steps(second.steps, second.denoising_strength)
    latent_mode = LATENT_UPSCALERS.get(spec.upscaler) if spec.upscaler_model is None else None
    first_total = [0]

    def first_progress(done, total):
        first_total[0] = total  # the sampler's calls per step (total / steps) apply to the second pass too
        passes.report(done, total + round(second_steps * total / request.steps))

    def second_progress(done, total):
        passes.report(first_total[0] + done, first_total[0] + total)

    first = passes.run(pipe, request, img2img.pipeline_inputs(request, "txt2img",
                                                              output_type="latent" if latent_mode else "pil"),
                       first_progress)
    if passes.cancelled():
        raise RenderCancelled()
    if latent_mode:
        import torch.nn.functional as F  # torch: heavy, imported when a render needs it

        upscaled = F.interpolate(first, size=(second.height // 8, second.width // 8), mode=latent_mode)
    else:
        upscaled = [upscale_image(passes, image, spec, second.width, second.height) for image in first]

    mode = "img2img" if second_steps < second.steps else "txt2img"
    if second_steps == 0:
        return img2img.decode_latents(pipe, upscaled) if latent_mode else upscaled
    return passes.run(passes.pipeline_for(second, mode), second, img2img.pipeline_inputs(second, mode, upscaled),
                      second_progress)


def upscale_image(passes: Passes, image, spec, width: int, height: int):
    """A decoded first-pass image at width x height through the spec's pixel upscaler."""
    from PIL import Image

    if spec.upscaler_model is not None:
        image = passes.upscaler(spec.upscaler_model).upscale(image, max(width / image.width, height / image.height))
    if image.size == (width, height):
        return image
    return image.resize((width, height), Image.Resampling.LANCZOS)


def check_request(request) -> None:
    """ValueError for hires settings the engine cannot honour."""
    hires = request.hires
    if hires is None:
        return
    if request.init_image_path is not None:
        raise ValueError("hires fix applies to text to image only")
    if hires.width % 8 or hires.height % 8 or hires.width < request.width or hires.height < request.height:
        raise ValueError("the hires size must be multiples of 8, at least the first pass's size")
    if hires.steps < 0 or not 0.0 <= hires.denoising_strength <= 1.0:
        raise ValueError("hires steps must be >= 0 and its denoising_strength from 0 to 1")
    if hires.upscaler_model is None and hires.upscaler not in UPSCALER_NAMES:
        raise ValueError(f"unknown hires upscaler {hires.upscaler!r}; built in: {', '.join(UPSCALER_NAMES)}")
