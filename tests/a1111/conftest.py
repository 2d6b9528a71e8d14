"""Fixtures of the A1111-compatible API tests: a small library of tiny models, the in-process render worker, a
live server and the real `webuiapi` client pointed at it."""

import pytest
from PIL import Image as PILImage

from engine.tiny_models import write_model_file
from models_app.services import import_model_file

TOKEN = "a1111-s3cret"


@pytest.fixture
def library(transactional_db, tmp_path):
    """A tiny checkpoint (two, to switch between), a LoRA, a VAE, an embedding, a ControlNet and an upscaler."""
    def imported(file_name, name, kind="checkpoint", seed=0):
        return import_model_file(write_model_file(tmp_path / file_name, kind=kind, seed=seed), name=name)[0]

    return {
        "checkpoint": imported("tiny.safetensors", "tiny"),
        "other": imported("tiny-2.safetensors", "tiny-2", seed=5),
        "lora": imported("detail.safetensors", "detail", "lora", seed=1),
        "vae": imported("vae.safetensors", "tiny-vae", "vae", seed=2),
        "embedding": imported("emb.safetensors", "tinyemb", "embedding", seed=3),
        "controlnet": imported("cn.safetensors", "tiny-cn", "controlnet", seed=4),
        "upscaler": imported("4x.pth", "4x-tiny", "upscaler", seed=6),
    }


@pytest.fixture
def base_url(live_url):
    return f"{live_url}/sdapi/v1"


@pytest.fixture
def webui(base_url):
    import webuiapi

    return webuiapi.WebUIApi(baseurl=base_url, sampler="Euler", scheduler="automatic", steps=2)


def picture(color=(200, 30, 30), size=(32, 32)) -> PILImage.Image:
    """A small RGB image with one odd pixel (so that resampling shows)."""
    image = PILImage.new("RGB", size, color)
    image.putpixel((3, 5), (0, 0, 255))
    return image
