"""A1111 request bodies as task submissions (a1111_app/mapping.py), without rendering."""

import io

import pytest
from PIL import Image as PILImage

from a1111_app import mapping
from a1111_app.errors import ValidationFailed
from tests.support.factories import make_model


@pytest.fixture
def checkpoint(db):
    return make_model("tiny", model_type="checkpoint")


def test_n_iter_and_large_batches_split_into_tasks_with_contiguous_seeds(checkpoint, settings):
    settings.SDHOST = {**settings.SDHOST, "MAX_BATCH_SIZE": 4}
    job = mapping.txt2img_job({"prompt": "p", "seed": 100, "batch_size": 6, "n_iter": 2})
    assert [(body["seed"], body["batch_size"]) for body in job.bodies] == [(100, 4), (104, 4), (108, 4)]
    assert job.count == 12 and job.bodies[0]["checkpoint_hash"] == checkpoint.hash
    assert job.bodies[0]["tags"] == ["sdapi"]
    random = mapping.txt2img_job({"prompt": "p", "seed": -1, "n_iter": 2})
    assert random.bodies[1]["seed"] == random.bodies[0]["seed"] + 1 >= 1


def test_a1111_defaults_apply(checkpoint):
    body = mapping.txt2img_job({"prompt": "p"}).bodies[0]
    assert (body["steps"], body["cfg_scale"], body["sampler"], body["width"], body["height"]) == \
        (50, 7.0, "Euler", 512, 512)
    assert body["clip_skip"] == 1 and body["vae_hash"] is None and "hires" not in body


@pytest.mark.parametrize("sampler, scheduler, ours, ignored", [
    ("Euler a", "automatic", ("Euler a", "Automatic"), []),
    ("DPM++ 2M", "Karras", ("DPM++ 2M", "Karras"), []),
    ("DPM++ 2M Karras", None, ("DPM++ 2M", "Karras"), []),
    ("DPM++ 2M Karras", "Exponential", ("DPM++ 2M", "Karras"), []),  # A1111: the folded-in schedule wins
    ("Euler", "karras", ("Euler", "Karras"), []),
    ("Euler", "KL Optimal", ("Euler", "KL Optimal"), []),
    ("DPM++ SDE", "sgm_uniform", ("DPM++ SDE", "SGM Uniform"), []),
    ("Euler SGMUniform", None, ("Euler", "SGM Uniform"), []),
    ("LCM", "", ("LCM", "Automatic"), []),
    ("Euler", "linear", ("Euler", "Automatic"), ["scheduler (linear)"]),  # A1111: unknown means Automatic
])
def test_samplers_and_schedulers(checkpoint, sampler, scheduler, ours, ignored):
    job = mapping.txt2img_job({"prompt": "p", "sampler_name": sampler, "scheduler": scheduler})
    assert (job.bodies[0]["sampler"], job.bodies[0]["scheduler"]) == ours and job.ignored == ignored


def test_hires_fields(checkpoint):
    def hires(**fields):
        return mapping.txt2img_job({"prompt": "p", "width": 64, "height": 96, "enable_hr": True, **fields}
                                   ).bodies[0]["hires"]

    assert hires() == {"steps": 0, "denoising_strength": 0.7, "scale": 2.0, "upscaler": "Latent"}
    assert hires(hr_resize_x=128) == {"steps": 0, "denoising_strength": 0.7, "width": 128, "height": 192,
                                      "upscaler": "Latent"}
    assert hires(hr_resize_x=96, hr_resize_y=128, hr_upscaler="Lanczos", hr_second_pass_steps=3,
                 denoising_strength=0.4) == {"steps": 3, "denoising_strength": 0.4, "width": 96, "height": 128,
                                             "upscaler": "Lanczos"}
    job = mapping.txt2img_job({"prompt": "p", "enable_hr": True, "hr_upscaler": "Latent (bicubic antialiased)"})
    assert job.bodies[0]["hires"]["upscaler"] == "Latent"
    assert job.ignored == ["hr_upscaler (Latent (bicubic antialiased) rendered as Latent)"]


def test_inverted_mask(checkpoint):
    def png(color):
        out = io.BytesIO()
        PILImage.new("L", (8, 8), color).save(out, format="PNG")
        return out.getvalue()

    import base64

    job = mapping.img2img_job({"prompt": "p", "init_images": [base64.b64encode(png(128)).decode()],
                               "mask": "data:image/png;base64," + base64.b64encode(png(255)).decode(),
                               "inpainting_mask_invert": 1})
    with PILImage.open(io.BytesIO(job.images["mask_image"])) as mask:
        assert mask.getpixel((0, 0)) == 0
    assert job.parameters["mask"] is None and job.bodies[0]["denoising_strength"] == 0.75


def test_no_checkpoint_in_the_library(db):
    from a1111_app.errors import A1111Error

    with pytest.raises(A1111Error) as raised:
        mapping.txt2img_job({"prompt": "p"})
    assert raised.value.status == 400


def test_body_must_be_an_object(checkpoint):
    with pytest.raises(ValidationFailed) as raised:
        mapping.txt2img_job(["p"])
    assert raised.value.loc == []


def test_a_lora_tag_naming_no_lora_is_taken_out_and_listed(checkpoint):
    make_model("detail", model_type="lora")
    job = mapping.txt2img_job({"prompt": "a cat <lora:detail:0.5> <lora:missing:1> in a hat"})
    assert job.bodies[0]["prompt"] == "a cat <lora:detail:0.5>  in a hat"
    assert job.ignored == ["<lora:missing:1> (no single LoRA of that name in the library)"]
