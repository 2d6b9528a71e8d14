"""Image to image and inpainting (D36): which pipeline, its image inputs, and the finishing of its output.

Every mode runs on a pipeline view built from the checkpoint's loaded components (`passes.Passes.pipeline_for`),
never on a second copy of the weights. A1111's rules:

- The init image and the mask are scaled to cover `width` x `height` and centre-cropped ("crop and resize"); a
  mask of another size or aspect ratio is fitted the same way. The mask becomes greyscale (white = repaint) and
  is blurred by `mask_blur` px (Gaussian radius).
- `ceil(steps x strength)` denoising steps run. Strength 0 runs none: the output is the init image after a VAE
  round trip. Strength 1 ignores the init image (a text-to-image render; inpainting still keeps the black area).
- Inpainting composites the result over the init image through the blurred mask, so black-masked pixels are
  returned unchanged.
"""

import math

from .passes import Passes

MODES = ("txt2img", "img2img", "inpaint")
_SUFFIX = {"txt2img": "", "img2img": "Img2Img", "inpaint": "Inpaint"}


def pipeline_class(family: str, controlnet: bool, mode: str):
    """The diffusers pipeline class of `family` (sd15, sd2, sdxl) for `mode`, with or without ControlNet."""
    import diffusers

    prefix = "StableDiffusionXL" if family == "sdxl" else "StableDiffusion"
    return getattr(diffusers, f"{prefix}{'ControlNet' if controlnet else ''}{_SUFFIX[mode]}Pipeline")


def denoising_steps(steps: int, strength: float) -> int:
    """How many steps an image-to-image pass runs: ceil(steps x strength) (D36)."""
    return min(steps, math.ceil(round(steps * strength, 6)))


def diffusers_strength(steps: int, strength: float) -> float:
    """The `strength` argument for which diffusers, which runs int(steps x strength) steps, runs our count."""
    count = denoising_steps(steps, strength)
    return 1.0 if count >= steps else (count + 0.5) / steps


def mode_of(request) -> str:
    """The pipeline mode of a request's (first) pass."""
    if request.init_image_path is None:
        return "txt2img"
    if request.mask_path is not None:
        return "inpaint"
    return "img2img" if denoising_steps(request.steps, request.denoising_strength) < request.steps else "txt2img"


def fit(image, width: int, height: int):
    """`image` scaled to cover width x height and centre-cropped (A1111's "crop and resize")."""
    from PIL import Image, ImageOps

    return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS)


def load_init_image(path: str, width: int, height: int):
    from PIL import Image

    with Image.open(path) as image:
        return fit(image.convert("RGB"), width, height)


def load_mask(path: str, width: int, height: int, blur: int):
    """The mask in L mode (white = repaint), fitted to the size and blurred by `blur` px."""
    from PIL import Image, ImageFilter

    with Image.open(path) as image:
        mask = fit(image.convert("L"), width, height)
    return mask.filter(ImageFilter.GaussianBlur(blur)) if blur > 0 else mask


def control_inputs(request, mode: str) -> dict:
    """The ControlNet arguments: `image` for text to image, `control_image` otherwise (resized by diffusers)."""
    if not request.controlnets:
        return {}
    from PIL import Image

    images = []
    for spec in request.controlnets:
        with Image.open(spec.image_path) as image:
            images.append(image.convert("RGB"))
    weights = [float(spec.weight) for spec in request.controlnets]
    return {"image" if mode == "txt2img" else "control_image": images[0] if len(images) == 1 else images,
            "controlnet_conditioning_scale": weights[0] if len(weights) == 1 else weights}


def pipeline_inputs(request, mode: str, image=None, mask=None, output_type: str = "pil") -> dict:
    """The image arguments of the pipeline call for `mode`; `image` is PIL image(s) or latents for img2img."""
    inputs = {"output_type": output_type, **control_inputs(request, mode)}
    if mode != "img2img" or request.controlnets:  # plain img2img pipelines take the size from the image
        inputs.update(width=request.width, height=request.height)
    if mode != "txt2img":
        inputs.update(image=image, strength=diffusers_strength(request.steps, request.denoising_strength))
    if mode == "inpaint":
        inputs["mask_image"] = mask
    return inputs


def render(passes: Passes, pipe, request) -> list:
    """One pass of text to image, image to image or inpainting on `pipe` (for `mode_of(request)`); PIL images."""
    mode = mode_of(request)
    init = mask = None
    if request.init_image_path is not None:
        init = load_init_image(request.init_image_path, request.width, request.height)
    if request.mask_path is not None:
        mask = load_mask(request.mask_path, request.width, request.height, request.mask_blur)
    if mode != "txt2img" and denoising_steps(request.steps, request.denoising_strength) == 0:
        images = vae_round_trip(pipe, init, len(passes.seeds))
    else:
        images = passes.run(pipe, request, pipeline_inputs(request, mode, init, mask))
    if mask is not None:
        from PIL import Image

        images = [Image.composite(image, init, mask) for image in images]
    return images


def vae_round_trip(pipe, image, count: int) -> list:
    """`image` encoded (posterior mean) and decoded by the pipeline's VAE: a zero-step pass; `count` copies."""
    import torch

    vae = pipe.vae
    with torch.no_grad():
        pixels = pipe.image_processor.preprocess(image).to(vae.device, vae.dtype)
        decoded = vae.decode(vae.encode(pixels).latent_dist.mode()).sample
    return pipe.image_processor.postprocess(decoded, output_type="pil") * count


def decode_latents(pipe, latents) -> list:
    """PIL images from latents in the UNet's scale (a pipeline's output_type="latent")."""
    import torch

    vae = pipe.vae
    with torch.no_grad():
        decoded = vae.decode(latents.to(vae.device, vae.dtype) / vae.config.scaling_factor).sample
    return pipe.image_processor.postprocess(decoded, output_type="pil")


def check_request(request) -> None:
    """ValueError for image-to-image settings the engine cannot honour."""
    if not 0.0 <= request.denoising_strength <= 1.0:
        raise ValueError("denoising_strength must be from 0 to 1")
    if request.mask_path is not None and request.init_image_path is None:
        raise ValueError("a mask needs an init image")
    if not 0 <= request.mask_blur <= 64:
        raise ValueError("mask_blur must be from 0 to 64")
