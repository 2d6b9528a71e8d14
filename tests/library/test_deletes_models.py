"""DELETE /api/models/{hash} and DELETE /api/models: effects, in-use refusals (D11), both body forms."""

import pytest

from images_app.storage import image_file_path
from models_app.models import ModelTag, SDModel
from models_app.storage import model_file_path
from system_app.models import Tag
from tasks_app.models import Task, TaskModel, TaskTag
from tests.support.api import assert_error
from tests.support.factories import make_image, make_model, make_task

pytestmark = pytest.mark.django_db


def test_delete_removes_row_and_file_after_commit(api, django_capture_on_commit_callbacks):
    model = make_model()
    path = model_file_path(model)
    assert path.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/models/{model.hash}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Model deleted successfully"}
    assert not SDModel.objects.filter(pk=model.hash).exists()
    assert not path.exists()


def test_delete_unknown_404(api):
    assert_error(api.delete("/api/models/" + "c" * 64), 404, "not_found")
    assert_error(api.delete("/api/models/..%2F..%2Fsettings.py"), 404, "not_found")


@pytest.mark.parametrize("status", ["pending", "running"])
@pytest.mark.parametrize("role", ["checkpoint", "vae", "additional"])
def test_in_use_by_active_task_is_409(api, status, role):
    model = make_model(model_type={"checkpoint": "checkpoint", "vae": "vae", "additional": "lora"}[role])
    other = make_model()
    if role == "checkpoint":
        make_task(model, status=status)
    elif role == "vae":
        make_task(other, vae=model, status=status)
    else:
        make_task(other, additional=[(model, None)], status=status)
    assert_error(api.delete(f"/api/models/{model.hash}"), 409, "model_in_use")
    assert SDModel.objects.filter(pk=model.hash).exists()
    assert model_file_path(model).is_file()
    response = api.delete_json("/api/models", {"hashes": [model.hash]})
    assert response.json() == {"deleted": [], "failed": [{"hash": model.hash, "reason": "Model in use by active task"}], "count": 0}


def test_deletion_effects(api, django_capture_on_commit_callbacks):
    checkpoint = make_model()
    vae = make_model(model_type="vae")
    lora = make_model(model_type="lora")
    keep = make_model()
    done = make_task(checkpoint, status="completed", additional=[(lora, None)])
    Tag(name="t").save()
    TaskTag.objects.create(task=done, tag=Tag.objects.get())
    ModelTag.objects.create(model=checkpoint, tag=Tag.objects.get())
    image = make_image()
    image.task = done
    image.save()
    vae_user = make_task(keep, vae=vae, status="failed")
    lora_user = make_task(keep, status="completed", additional=[(lora, None)])
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/models/{checkpoint.hash}").status_code == 200
        assert api.delete(f"/api/models/{vae.hash}").status_code == 200
        assert api.delete(f"/api/models/{lora.hash}").status_code == 200
    assert not Task.objects.filter(pk=done.pk).exists()  # checkpoint's tasks go
    image.refresh_from_db()
    assert image.task_id is None  # images stay, with their files
    assert image_file_path(image).is_file()
    vae_user.refresh_from_db()
    assert vae_user.vae_id is None  # VAE tasks stay
    assert Task.objects.filter(pk=lora_user.pk).exists()
    assert not TaskModel.objects.filter(task=lora_user).exists()
    assert not ModelTag.objects.exists() and not TaskTag.objects.exists()
    assert Tag.objects.filter(name="t").exists()


def test_batch_delete_hashes_form(api, django_capture_on_commit_callbacks):
    a, b, busy = make_model(), make_model(), make_model()
    make_task(busy, status="pending")
    missing = "e" * 64
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete_json("/api/models", {"hashes": [a.hash, b.hash, busy.hash, missing, a.hash]})
    assert response.status_code == 200
    assert response.json() == {
        "deleted": [a.hash, b.hash],
        "failed": [{"hash": busy.hash, "reason": "Model in use by active task"},
                   {"hash": missing, "reason": "Model not found"}],
        "count": 2,
    }
    assert list(SDModel.objects.values_list("hash", flat=True)) == [busy.hash]
    assert not model_file_path(a).exists()


def test_batch_delete_jsonapi_form(api):
    a, b = make_model(), make_model()
    body = {"data": [{"type": "model", "id": a.hash}, {"type": "model", "id": b.hash}], "jsonapi": {"version": "1.0"}}
    response = api.delete_json("/api/models", body)
    assert response.json() == {"deleted": [a.hash, b.hash], "failed": [], "count": 2}


@pytest.mark.parametrize("body,pointer", [
    ({}, None), ([], None), ({"hashes": "abc"}, "/hashes"), ({"hashes": [1]}, "/hashes/0"),
    ({"data": [{"type": "image", "id": "x"}]}, "/data/0/type"), ({"data": ["x"]}, "/data/0"),
    ({"data": [{"type": "model", "id": 5}]}, "/data/0/id"), ({"hashes": [], "data": []}, None),
    ({"hashes": [], "extra": 1}, None), ("not json", None),
])
def test_batch_delete_malformed_body(api, body, pointer):
    model = make_model()
    assert_error(api.delete_json("/api/models", body), 400, "invalid_request", pointer=pointer)
    assert SDModel.objects.filter(pk=model.hash).exists()


def test_batch_delete_without_body_is_400(api):
    assert_error(api.delete("/api/models"), 400, "invalid_request")


def test_delete_downloading_model(api):
    model = make_model(status="downloading")
    assert api.delete(f"/api/models/{model.hash}").status_code == 200
    assert not SDModel.objects.filter(pk=model.hash).exists()
