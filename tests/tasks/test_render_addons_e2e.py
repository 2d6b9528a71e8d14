"""Add-on models end to end: HTTP API → queue → real worker → stored PNGs (tiny SD1.5 models on CPU).

LoRA, VAE, embedding and ControlNet each change the rendered image, the parameters chunk names what was used,
and a LoRA leaves nothing behind for the next task (D9, D10, D30).
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from engine.tiny_models import write_model_file
from images_app.storage import image_file_path
from models_app.services import import_model_file
from tests.support.worker import render_task

PROMPT = "a tiny valley"




@pytest.fixture
def library(transactional_db, tmp_path):
    """A tiny SD1.5 checkpoint and one model of every add-on kind, imported from real files."""
    kinds = {"checkpoint": 0, "lora": 1, "vae": 2, "embedding": 3, "controlnet": 4}
    return {
        kind: import_model_file(write_model_file(tmp_path / f"{kind}.safetensors", kind=kind, seed=seed),
                                name=f"tiny-{kind}")[0]
        for kind, seed in kinds.items()
    }




def render(api, library, **fields):
    """Submit a 64x64 two-step task, wait for it and return (task, images ordered by seed)."""
    body = {"checkpoint_hash": library["checkpoint"].hash, "prompt": PROMPT, "width": 64, "height": 64,
            "steps": 2, "sampler": "Euler", "seed": 42, **fields}
    return render_task(api, body)


def png_parameters(image):
    with PILImage.open(io.BytesIO(image_file_path(image).read_bytes())) as png:
        return png.info["parameters"]


def test_lora_changes_the_image_and_is_unloaded_afterwards(api, library, render_worker):
    lora = library["lora"]
    plain = render(api, library)[1][0]
    _, with_lora = render(api, library, additional_models=[{"model_hash": lora.hash, "weight": 0.8}])
    assert len(with_lora) == 1 and with_lora[0].hash != plain.hash
    parameters = png_parameters(with_lora[0])
    assert "Lora hashes" in parameters and f"tiny-lora: {lora.hash[:10]}" in parameters
    assert "Lora hashes" not in png_parameters(plain)

    # The same plain request again renders the very same bytes: the LoRA left the pipeline. The first plain
    # image is deleted so the repeat stores its own row (D4 would otherwise keep the first task's row).
    assert api.delete(f"/api/images/{plain.hash}").status_code == 200
    _, images = render(api, library)
    assert [image.hash for image in images] == [plain.hash]
    assert "Lora hashes" not in png_parameters(images[0])


def test_vae_override_changes_the_image(api, library, render_worker):
    vae = library["vae"]
    plain = render(api, library)[1][0]
    with_vae = render(api, library, vae_hash=vae.hash)[1][0]
    assert with_vae.hash != plain.hash
    parameters = png_parameters(with_vae)
    assert f"VAE hash: {vae.hash[:10]}" in parameters and "VAE: tiny-vae" in parameters
    assert "VAE hash" not in png_parameters(plain)


def test_embedding_acts_through_its_trigger_word(api, library, render_worker):
    embedding = library["embedding"]
    response = api.post_json(f"/api/models/{embedding.hash}", {"trigger_words": ["glimmerstyle"]})
    assert response.status_code == 200, response.content
    prompt = "a tiny valley, glimmerstyle"
    plain = render(api, library, prompt=prompt)[1][0]
    with_embedding = render(api, library, prompt=prompt,
                            additional_models=[{"model_hash": embedding.hash, "weight": 1.0}])[1][0]
    assert with_embedding.hash != plain.hash
    parameters = png_parameters(with_embedding)
    assert parameters.startswith(prompt)  # the prompt is recorded as written, not with the internal token
    assert f"TI hashes: \"glimmerstyle: {embedding.hash[:10]}\"" in parameters

    # Without its trigger in the prompt the embedding is not used: the bytes equal the plain render's (D4: no row).
    untriggered = render(api, library, additional_models=[{"model_hash": embedding.hash, "weight": 1.0}])
    plain_again = render(api, library)
    assert len(untriggered[1]) == 1 and plain_again[1] == []
    assert "TI hashes" not in png_parameters(untriggered[1][0])


def test_controlnet_with_uploaded_control_image(api, library, render_worker):
    control = PILImage.new("RGB", (48, 80), "white")
    for x in range(10, 38):
        for y in range(20, 60):
            control.putpixel((x, y), (0, 0, 0))
    buffer = io.BytesIO()
    control.save(buffer, format="PNG")
    upload = api.post("/api/images/upload", {"file": SimpleUploadedFile("edges.png", buffer.getvalue(), "image/png")})
    assert upload.status_code == 201, upload.content
    control_hash = upload.json()["data"]["id"]

    plain = render(api, library)[1][0]
    task, images = render(api, library, additional_models=[
        {"model_hash": library["controlnet"].hash, "weight": 1.0, "control_image": control_hash}])
    assert len(images) == 1 and images[0].hash != plain.hash
    assert task.task_models.get().control_image_id == control_hash


def test_batch_seeds_are_consecutive_and_recorded_per_png(api, library, render_worker):
    task, images = render(api, library, seed=100, batch_size=3)
    assert [image.seed for image in images] == [100, 101, 102]
    assert len({image.hash for image in images}) == 3
    for image in images:
        assert f"Seed: {image.seed}," in png_parameters(image)
    assert task.seed == 100


def test_task_document_includes_task_models(api, library, render_worker):
    lora, controlnet = library["lora"], library["controlnet"]
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), "gray").save(buffer, format="PNG")
    control_hash = api.post("/api/images/upload", buffer.getvalue(), content_type="image/png").json()["data"]["id"]
    task, _ = render(api, library, additional_models=[
        {"model_hash": lora.hash, "weight": 0.8},
        {"model_hash": controlnet.hash, "weight": 1.5, "control_image": control_hash}])

    response = api.get(f"/api/tasks/{task.id}?include=checkpoint,additional_models.model")
    assert response.status_code == 200, response.content
    body = response.json()
    relationships = body["data"]["relationships"]
    assert relationships["checkpoint"]["data"] == {"type": "model", "id": library["checkpoint"].hash}
    expected_ids = {f"{task.id}:{lora.hash}", f"{task.id}:{controlnet.hash}"}
    assert {ref["id"] for ref in relationships["additional_models"]["data"]} == expected_ids
    assert all(ref["type"] == "task_model" for ref in relationships["additional_models"]["data"])

    included = {(item["type"], item["id"]): item for item in body["included"]}
    assert ("model", library["checkpoint"].hash) in included
    for model, weight in ((lora, 0.8), (controlnet, 1.5)):
        task_model = included[("task_model", f"{task.id}:{model.hash}")]
        assert task_model["attributes"]["weight"] == pytest.approx(weight)
        assert task_model["relationships"]["model"]["data"] == {"type": "model", "id": model.hash}
        assert ("model", model.hash) in included
