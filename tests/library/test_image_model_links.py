"""Images link to the models they were made with (#24 item 5): a render through its task, an imported PNG through
its infotext's `Model hash` / `VAE hash` / `Lora hashes` / `TI hashes` (now or when the model arrives later);
`filter[model]=<sha256>` on /api/images selects them; deleting either side drops the links."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

from engine.tiny_models import write_model_file
from images_app.models import Image, ImageModelRef
from models_app.models import ImageModel, SDModel
from models_app.services import import_model_file
from tests.support.factories import make_model
from tests.support.worker import render_task

pytestmark = pytest.mark.django_db


def infotext(checkpoint=None, lora=None, embedding=None, vae=None, seed=1):
    fields = ["Steps: 20", "Sampler: Euler", "CFG scale: 7", f"Seed: {seed}", "Size: 512x512"]
    if checkpoint:
        fields += [f"Model hash: {checkpoint[:10]}", "Model: dreamy"]
    if vae:
        fields += [f"VAE hash: {vae[:10]}", "VAE: clear"]
    if lora:
        fields.append(f'Lora hashes: "ink: {lora[:10]}"')
    if embedding:
        fields.append(f'TI hashes: "glimmer: {embedding[:10]}"')
    return "a lighthouse <lora:ink:0.7>\nNegative prompt: blur\n" + ", ".join(fields)


def png_file(path, parameters, color=(10, 20, 30)):
    info = PngInfo()
    info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    PILImage.new("RGB", (16, 16), color).save(buffer, "PNG", pnginfo=info)
    path.write_bytes(buffer.getvalue())
    return path


def import_images(*paths):
    call_command("import_image", *[str(p) for p in paths], stdout=io.StringIO(), stderr=io.StringIO())
    return [Image.objects.get(metadata__parameters=PILImage.open(p).info["parameters"]) for p in paths]


def links(image):
    return dict(ImageModel.objects.filter(image=image).values_list("model_id", "role"))


def model_filter(api, sha):
    response = api.get("/api/images", {"filter[model]": sha})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["data"]}


def tag_counts(api):
    attributes = api.get("/api/tags", {"filter[name]": "keep"}).json()["data"][0]["attributes"]
    return {key: attributes[key] for key in ("image_count", "model_count")}


@pytest.fixture
def library(tmp_path):
    kinds = {"checkpoint": 0, "lora": 1, "vae": 2, "embedding": 3}
    return {kind: import_model_file(write_model_file(tmp_path / f"{kind}.safetensors", kind=kind, seed=seed),
                                    name=f"tiny-{kind}")[0]
            for kind, seed in kinds.items()}


def test_imported_png_links_to_the_library_models_it_names(api, library, tmp_path):
    hashes = {kind: model.hash for kind, model in library.items()}
    made, other = import_images(png_file(tmp_path / "a.png", infotext(**hashes)),
                                png_file(tmp_path / "b.png", infotext(seed=2), color=(1, 2, 3)))
    assert links(made) == {sha: kind for kind, sha in hashes.items()}
    assert links(other) == {}
    for sha in hashes.values():
        assert model_filter(api, sha) == {made.hash}
    assert model_filter(api, "0" * 64) == set()


def test_model_imported_after_the_png_is_linked_on_arrival(api, tmp_path):
    checkpoint_file = write_model_file(tmp_path / "late.safetensors", seed=7)
    lora_file = write_model_file(tmp_path / "late-lora.safetensors", kind="lora", seed=8)
    sha = import_model_file(checkpoint_file)[0].hash  # hashed once, then removed: it "arrives later"
    lora_sha = import_model_file(lora_file)[0].hash
    SDModel.objects.filter(hash__in=[sha, lora_sha]).delete()

    image, = import_images(png_file(tmp_path / "a.png", infotext(checkpoint=sha, lora=lora_sha)))
    assert links(image) == {}
    assert set(ImageModelRef.objects.filter(image=image).values_list("role", "hash")) == {
        ("checkpoint", sha[:10]), ("lora", lora_sha[:10])}
    assert model_filter(api, sha) == set()

    call_command("import_model", str(checkpoint_file), str(lora_file), stdout=io.StringIO(), stderr=io.StringIO())
    assert links(image) == {sha: "checkpoint", lora_sha: "lora"}
    assert model_filter(api, sha) == {image.hash} == model_filter(api, lora_sha)


def test_ambiguous_autov2_prefix_links_every_match_of_the_role(api, tmp_path):
    prefix = "abcdef0123"
    first, second = (SDModel.objects.create(hash=prefix + tail * 54, name=tail, model_type="checkpoint", size=1)
                     for tail in "01")
    lora = SDModel.objects.create(hash=prefix + "2" * 54, name="lora", model_type="lora", size=1)
    image, = import_images(png_file(tmp_path / "a.png", infotext(checkpoint=first.hash)))
    assert links(image) == {first.hash: "checkpoint", second.hash: "checkpoint"}  # not the LoRA: other role
    late = SDModel.objects.create(hash=prefix + "3" * 54, name="late", model_type="checkpoint", size=1)
    assert links(image) == {first.hash: "checkpoint", second.hash: "checkpoint", late.hash: "checkpoint"}
    assert model_filter(api, lora.hash) == set()


def test_render_links_image_to_checkpoint_and_addons(api, library, render_worker):
    checkpoint, lora = library["checkpoint"], library["lora"]
    body = {"checkpoint_hash": checkpoint.hash, "prompt": "a tiny valley", "width": 64, "height": 64, "steps": 2,
            "sampler": "Euler", "seed": 42, "vae_hash": library["vae"].hash,
            "additional_models": [{"model_hash": lora.hash, "weight": 0.8}]}
    _, (image,) = render_task(api, body)
    assert links(image) == {checkpoint.hash: "checkpoint", lora.hash: "lora", library["vae"].hash: "vae"}
    assert model_filter(api, checkpoint.hash) == {image.hash}
    assert model_filter(api, library["embedding"].hash) == set()
    either = api.get("/api/images", {"filter[model][in]": f"{checkpoint.hash},{'0' * 64}"}).json()
    assert [row["id"] for row in either["data"]] == [image.hash]


def test_deleting_a_model_or_an_image_drops_its_links_and_keeps_tag_counts(api, tmp_path,
                                                                           django_capture_on_commit_callbacks):
    checkpoint, lora = make_model(), make_model(model_type="lora")
    image, = import_images(png_file(tmp_path / "a.png", infotext(checkpoint=checkpoint.hash, lora=lora.hash)))
    assert api.post_json(f"/api/images/{image.hash}", {"tags": ["keep"]}).status_code == 200
    assert api.post_json(f"/api/models/{checkpoint.hash}", {"tags": ["keep"]}).status_code == 200
    assert len(links(image)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/models/{checkpoint.hash}").status_code == 200
    image.refresh_from_db()
    assert links(image) == {lora.hash: "lora"} and image.tag_count == 1
    assert tag_counts(api) == {"image_count": 1, "model_count": 0}
    assert ImageModelRef.objects.filter(image=image).count() == 2  # its hashes stay: the model may come back

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/images/{image.hash}").status_code == 200
    assert not ImageModel.objects.exists() and not ImageModelRef.objects.exists()
    assert SDModel.objects.filter(hash=lora.hash).exists()
    assert tag_counts(api) == {"image_count": 0, "model_count": 0}


def test_filter_model_is_declared_in_the_openapi_schema(api):
    schema = json.loads(api.get("/api/schema", HTTP_ACCEPT="application/json").content)
    params = {p["name"] for p in schema["paths"]["/api/images"]["get"]["parameters"]}
    assert {"filter[model]", "filter[model][in]"} <= params


BEFORE = [("images_app", "0006_trigger_sets_v2"), ("models_app", "0009_in_place_files"),
          ("tasks_app", "0013_task_scheduler")]


@pytest.mark.django_db(transaction=True)
def test_migration_links_existing_renders_and_imports(api):
    """A library from before the links: rendered images link through their tasks, imported ones through the hashes
    their stored infotext names."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    old_model, old_image = old.get_model("models_app", "SDModel"), old.get_model("images_app", "Image")
    task_model, task_image = old.get_model("tasks_app", "TaskModel"), old.get_model("tasks_app", "TaskImage")
    checkpoint, lora, vae = (old_model.objects.create(hash=f"{n}" * 64, name=kind, model_type=kind, size=1)
                             for n, kind in ((1, "checkpoint"), (2, "lora"), (3, "vae")))
    task = old.get_model("tasks_app", "Task").objects.create(prompt="p", checkpoint=checkpoint, vae=vae,
                                                             status="completed")
    task_model.objects.create(task=task, model=lora)
    rendered = old_image.objects.create(hash="a" * 64, width=8, height=8, size=10, task=task)
    task_image.objects.create(task=task, image=rendered)
    old_image.objects.create(hash="b" * 64, width=8, height=8, size=10,
                             metadata={"parameters": infotext(checkpoint=checkpoint.hash, lora=lora.hash)})
    old_image.objects.create(hash="c" * 64, width=8, height=8, size=10, metadata={"parameters": infotext()})

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert links("a" * 64) == {checkpoint.hash: "checkpoint", lora.hash: "lora", vae.hash: "vae"}
    assert links("b" * 64) == {checkpoint.hash: "checkpoint", lora.hash: "lora"}
    assert links("c" * 64) == {}
    assert model_filter(api, checkpoint.hash) == {"a" * 64, "b" * 64}
    assert model_filter(api, vae.hash) == {"a" * 64}


def test_uploaded_png_links_through_its_infotext(api, tmp_path):
    checkpoint = make_model()
    data = png_file(tmp_path / "up.png", infotext(checkpoint=checkpoint.hash)).read_bytes()
    response = api.post("/api/images/upload", {"file": SimpleUploadedFile("up.png", data, "image/png")})
    assert response.status_code == 201, response.content
    assert links(response.json()["data"]["id"]) == {checkpoint.hash: "checkpoint"}


@pytest.mark.parametrize("query, status", [
    ({"filter[model][not_null]": "true"}, 200), ({"filter[model][starts_with]": "ab"}, 200),
    ({"filter[model]": "not-a-hash\u00e9"}, 200), ({"filter[model][in]": ""}, 400), ({"sort": "model"}, 400),
    ({"filter[model][gt]": "a"}, 400)])
def test_odd_model_filters_answer_documents(api, query, status):
    response = api.get("/api/images", query)
    assert response.status_code == status, response.content
    assert ("errors" in response.json()) == (status == 400)
