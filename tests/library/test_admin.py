"""The Django admin renders every library table for a superuser, serves image previews, and deletes files."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from images_app.storage import image_file_path
from models_app.models import ModelTag, SDModel
from models_app.storage import model_file_path
from system_app.models import SystemFact, Tag
from tests.support.factories import make_image, make_model, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = Client()
    # no password: hashing one costs a second per test
    client.force_login(User.objects.create(username="owner", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def library():
    image = make_image(width=300, height=200)
    checkpoint = make_model(name="dream", cover_image=image, base_model="SD1.5")
    lora = make_model(name="style", model_type="lora")
    controlnet = make_model(name="pose", model_type="controlnet")
    task = make_task(checkpoint, additional=[(lora, None), (controlnet, image)], prompt="a castle " * 20)
    image.task = task
    image.save()
    Tag(name="Scenery").save()
    ModelTag.objects.create(model=checkpoint, tag=Tag.objects.get())
    SystemFact.objects.get_or_create(key="db_version", defaults={"value": "1.0.0"})
    return {"image": image, "model": checkpoint, "task": task, "tag": Tag.objects.get(),
            "fact": SystemFact.objects.get(key="db_version")}


@pytest.mark.parametrize("app,model,key", [
    ("models_app", "sdmodel", "model"), ("images_app", "image", "image"), ("tasks_app", "task", "task"),
    ("system_app", "tag", "tag"), ("system_app", "systemfact", "fact"),
])
def test_changelist_and_change_view_render(staff, library, app, model, key):
    listing = staff.get(f"/admin/{app}/{model}/")
    assert listing.status_code == 200
    assert staff.get(f"/admin/{app}/{model}/?q=a").status_code == 200
    change = staff.get(f"/admin/{app}/{model}/{library[key].pk}/change/")
    assert change.status_code == 200


def test_list_pages_show_useful_columns(staff, library):
    assert b"dream" in staff.get("/admin/models_app/sdmodel/?model_type__exact=checkpoint").content
    tags = staff.get("/admin/system_app/tag/").content.decode()
    assert "Scenery" in tags
    task_page = staff.get(f"/admin/tasks_app/task/{library['task'].pk}/change/").content.decode()
    assert library["image"].hash in task_page  # control image of the inline TaskModel


def test_image_thumbnail_and_preview(staff, library):
    image = library["image"]
    listing = staff.get("/admin/images_app/image/").content.decode()
    thumb_url = f"/admin/images_app/image/{image.hash}/file/?thumbnail=1"
    assert thumb_url.replace("&", "&amp;") in listing
    change = staff.get(f"/admin/images_app/image/{image.hash}/change/").content.decode()
    assert f"/admin/images_app/image/{image.hash}/file/" in change
    full = staff.get(f"/admin/images_app/image/{image.hash}/file/")
    assert full.status_code == 200 and full["Content-Type"] == "image/png"
    assert b"".join(full.streaming_content) == image_file_path(image).read_bytes()
    thumb = staff.get(thumb_url)
    assert thumb.status_code == 200
    from io import BytesIO

    from PIL import Image as PILImage

    with PILImage.open(BytesIO(b"".join(thumb.streaming_content))) as small:
        assert max(small.size) == 128


def test_admin_file_views_need_login(library):
    anonymous = Client()
    response = anonymous.get(f"/admin/images_app/image/{library['image'].hash}/file/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert anonymous.get(f"/admin/models_app/sdmodel/{library['model'].hash}/file/").status_code == 302


def test_model_file_download_from_admin(staff, library):
    model = library["model"]
    response = staff.get(f"/admin/models_app/sdmodel/{model.hash}/file/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == model_file_path(model).read_bytes()
    assert staff.get("/admin/models_app/sdmodel/../file/").status_code == 404


def test_admin_delete_removes_files(staff, library, django_capture_on_commit_callbacks):
    image, model = library["image"], library["model"]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/admin/images_app/image/{image.hash}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not image_file_path(image).exists()
    model.refresh_from_db()
    assert model.cover_image_id is None
    path = model_file_path(model)
    with django_capture_on_commit_callbacks(execute=True):
        staff.post("/admin/models_app/sdmodel/", {"action": "delete_selected", "_selected_action": [model.hash], "post": "yes"})
    assert not SDModel.objects.filter(pk=model.hash).exists()
    assert not path.exists()


def test_tag_form_refuses_case_insensitive_duplicates_and_long_names(staff, library):
    response = staff.post("/admin/system_app/tag/add/", {"name": "scenery", "description": ""})
    assert response.status_code == 200 and b"already exists" in response.content
    response = staff.post("/admin/system_app/tag/add/", {"name": "x" * 21, "description": ""})
    assert response.status_code == 200
    assert Tag.objects.count() == 1
    assert staff.post("/admin/system_app/tag/add/", {"name": "Forest", "description": ""}).status_code == 302
    assert Tag.objects.get(name="Forest").folded == "forest"


def test_an_in_place_models_path_is_shown_not_editable(staff, library):
    """An admin form must not point a model at another file (#24: `local_path` follows scans only)."""
    model = library["model"]
    SDModel.objects.filter(pk=model.pk).update(local_path="/models/dream.safetensors")
    page = staff.get(f"/admin/models_app/sdmodel/{model.hash}/change/")
    assert b"/models/dream.safetensors" in page.content and b'name="local_path"' not in page.content
