"""The admin shows a never-promoted task's promotion as empty and offers no edit that would break an invariant:
task status and request, model type and status, the hashes and the facts decided by the stored bytes."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tasks_app.models import Task
from tests.support.factories import make_image, make_model, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = Client()
    client.force_login(User.objects.create(username="owner", is_staff=True, is_superuser=True))
    return client


def form_inputs(html):
    """Names of the editable inputs of a change form."""
    return set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', html))


def test_never_promoted_task_shows_no_epoch(staff):
    task = make_task(make_model(), status="completed")
    page = staff.get(f"/admin/tasks_app/task/{task.pk}/change/").content.decode()
    assert "1970" not in page
    assert "Promoted at" in page


def test_promoted_task_shows_its_time(staff):
    task = make_task(make_model())
    Task.objects.filter(pk=task.pk).update(promoted_at="2031-05-06T07:08:09Z")
    page = staff.get(f"/admin/tasks_app/task/{task.pk}/change/").content.decode()
    assert "2031" in page


def test_task_status_and_request_are_not_editable(staff):
    lora = make_model(model_type="lora")
    task = make_task(make_model(), additional=[(lora, None)])
    names = form_inputs(staff.get(f"/admin/tasks_app/task/{task.pk}/change/").content.decode())
    assert not names & {"status", "prompt", "checkpoint", "seed", "promoted_at_0", "promoted_at"}
    assert not any(name.startswith("task_models-0-") and name.endswith(("-model", "-weight")) for name in names)
    staff.post(f"/admin/tasks_app/task/{task.pk}/change/", {"status": "completed", "prompt": "changed"})
    task.refresh_from_db()
    assert (task.status, task.prompt) == ("pending", "a cat")


def test_model_type_status_and_file_facts_are_not_editable(staff):
    model = make_model(name="dream")
    names = form_inputs(staff.get(f"/admin/models_app/sdmodel/{model.pk}/change/").content.decode())
    assert "name" in names
    assert not names & {"model_type", "status", "hash", "size", "file_ext"}


def test_image_hash_and_render_facts_are_not_editable(staff):
    image = make_image()
    names = form_inputs(staff.get(f"/admin/images_app/image/{image.pk}/change/").content.decode())
    assert "metadata" in names
    assert not names & {"hash", "width", "height", "size", "format", "seed", "task"}
