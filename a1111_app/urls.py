"""/sdapi/v1 routes (D39), mounted by sdhost/urls.py."""

from django.urls import path, re_path

from . import catalogue, views
from .errors import not_found_response

LISTINGS = {
    "sd-models": catalogue.sd_models, "sd-vae": catalogue.sd_vaes, "loras": catalogue.loras,
    "embeddings": catalogue.embeddings, "samplers": catalogue.samplers, "schedulers": catalogue.schedulers,
    "upscalers": catalogue.upscalers, "latent-upscale-modes": catalogue.latent_upscale_modes,
    "scripts": views.scripts, "hypernetworks": views.nothing, "face-restorers": views.nothing,
    "realesrgan-models": views.nothing, "prompt-styles": views.nothing, "sd-modules": views.nothing,
    "cmd-flags": views.cmd_flags, "memory": views.memory,
    "script-info": views.nothing, "extensions": views.nothing,  # no scripts to describe, no extensions installed
}

urlpatterns = [
    path("txt2img", views.txt2img, name="a1111-txt2img"),
    path("img2img", views.img2img, name="a1111-img2img"),
    path("extra-single-image", views.extra_single_image, name="a1111-extra-single-image"),
    path("extra-batch-images", views.extra_batch_images, name="a1111-extra-batch-images"),
    path("progress", views.progress, name="a1111-progress"),
    path("interrupt", views.interrupt, name="a1111-interrupt"),
    path("skip", views.skip, name="a1111-skip"),
    path("options", views.options_view, name="a1111-options"),
    path("png-info", views.png_info, name="a1111-png-info"),
    path("interrogate", views.interrogate, name="a1111-interrogate"),
    *[path(f"refresh-{what}", views.refresh, name=f"a1111-refresh-{what}") for what in ("checkpoints", "loras", "vae")],
    *[path(route, views.listing(build), name=f"a1111-{route}") for route, build in LISTINGS.items()],
    re_path(r"^.*$", not_found_response),
]
