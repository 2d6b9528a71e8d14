"""A write that must carry a JSON object and arrives with an empty body is a 400 and changes nothing."""

import pytest

from models_app.models import SDModel
from tasks_app.models import Task
from tests.support.api import assert_error
from tests.support.factories import make_image, make_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def library():
    return make_model(), make_image()


@pytest.mark.parametrize("method, path", [
    ("post", "/api/models/{model}"),
    ("post", "/api/models"),
    ("delete", "/api/models"),
    ("post", "/api/images/{image}"),
    ("post", "/api/images"),
    ("delete", "/api/images"),
    ("post", "/api/tasks"),
    ("delete", "/api/tasks"),
    ("put", "/api/tasks/promote"),
    ("post", "/api/models/add-from-civitai"),
])
def test_an_empty_body_is_a_400(api, library, method, path):
    model, image = library
    before = (model.updated_at, image.metadata, SDModel.objects.count(), Task.objects.count())
    response = getattr(api, method)(path.format(model=model.hash, image=image.hash), b"",
                                    content_type="application/json")
    error = assert_error(response, 400, "invalid_request")
    assert "empty" in error["detail"]
    model.refresh_from_db()
    image.refresh_from_db()
    assert (model.updated_at, image.metadata, SDModel.objects.count(), Task.objects.count()) == before
