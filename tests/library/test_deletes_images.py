"""DELETE /api/images/{hash} and DELETE /api/images: covers cleared, control images protected (D28)."""

import pytest

from images_app.models import Image, ImageTag
from images_app.storage import image_file_path
from system_app.models import Tag
from tasks_app.models import TaskModel
from tests.support.api import assert_error
from tests.support.factories import make_image, make_model, make_task

pytestmark = pytest.mark.django_db


def test_delete_image_clears_covers_and_removes_file(api, django_capture_on_commit_callbacks):
    image = make_image()
    Tag(name="x").save()
    ImageTag.objects.create(image=image, tag=Tag.objects.get())
    model = make_model(cover_image=image)
    before = model.updated_at
    path = image_file_path(image)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/images/{image.hash}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Image deleted successfully"}
    model.refresh_from_db()
    assert model.cover_image_id is None and model.updated_at > before
    assert not path.exists()
    assert not ImageTag.objects.exists() and Tag.objects.exists()


def test_delete_unknown_image_404(api):
    assert_error(api.delete("/api/images/" + "d" * 64), 404, "not_found")
    assert_error(api.delete("/api/images/%00"), 404, "not_found")


@pytest.mark.parametrize("status", ["pending", "running"])
def test_control_image_of_active_task_is_409(api, status):
    image = make_image()
    controlnet = make_model(model_type="controlnet")
    make_task(make_model(), status=status, additional=[(controlnet, image)])
    assert_error(api.delete(f"/api/images/{image.hash}"), 409, "image_in_use")
    assert image_file_path(image).is_file()
    response = api.delete_json("/api/images", {"hashes": [image.hash]})
    assert response.json() == {"deleted": [], "failed": [{"hash": image.hash, "reason": "Image in use by active task"}], "count": 0}


def test_control_image_of_finished_task_is_set_null(api):
    image = make_image()
    controlnet = make_model(model_type="controlnet")
    task = make_task(make_model(), status="completed", additional=[(controlnet, image)])
    assert api.delete(f"/api/images/{image.hash}").status_code == 200
    assert TaskModel.objects.get(task=task).control_image_id is None


def test_batch_both_forms(api, django_capture_on_commit_callbacks):
    a, b, c = make_image(), make_image(), make_image()
    missing = "f" * 64
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete_json("/api/images", {"hashes": [a.hash, missing, "../x"]})
    # D22: "Image not found" (images-api.md's example says "File not found")
    assert response.json() == {"deleted": [a.hash], "failed": [{"hash": missing, "reason": "Image not found"},
                                                                {"hash": "../x", "reason": "Image not found"}], "count": 1}
    assert not image_file_path(a).exists()
    body = {"data": [{"type": "image", "id": b.hash}, {"type": "image", "id": c.hash}]}
    assert api.delete_json("/api/images", body).json() == {"deleted": [b.hash, c.hash], "failed": [], "count": 2}
    assert not Image.objects.exists()


def test_batch_wrong_type(api):
    image = make_image()
    body = {"data": [{"type": "model", "id": image.hash}]}
    assert_error(api.delete_json("/api/images", body), 400, "invalid_request", pointer="/data/0/type")
    assert Image.objects.filter(pk=image.hash).exists()


def test_same_bytes_stored_again_after_delete(api, django_capture_on_commit_callbacks):
    from images_app.storage import store_image_bytes

    image = make_image(color=(1, 2, 3))
    data = image_file_path(image).read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(f"/api/images/{image.hash}")
    again, created = store_image_bytes(data)
    assert created and image_file_path(again).read_bytes() == data
