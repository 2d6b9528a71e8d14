"""Engine test helpers."""

import hashlib

from engine import ModelFile


def model_file(path, kind, name):
    """The engine's description of a model file on disk."""
    return ModelFile(path=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest(), name=name, kind=kind)


def render_with_unet_timesteps(engine, request):
    """Render `request`, recording the timestep of each UNet call through a real forward hook: (timesteps, the
    render's images, the pipeline that rendered it)."""
    pipe = engine._checkpoint(request.checkpoint).pipe
    seen = []
    handle = pipe.unet.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(float((args[1] if len(args) > 1 else kwargs["timestep"]).flatten()[0])),
        with_kwargs=True)
    try:
        images = engine.render(request)
    finally:
        handle.remove()
    return seen, images, pipe
