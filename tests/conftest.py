"""Shared fixtures: every test gets its own data directory and a JSON API client."""

import json
import os

import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def data_dirs(settings, tmp_path):
    """Point the content stores at a fresh folder for each test."""
    sdhost = dict(settings.SDHOST)
    sdhost.update(
        DATA_DIR=tmp_path,
        MODELS_PATH=tmp_path / "models",
        IMAGES_PATH=tmp_path / "images",
        CACHE_PATH=tmp_path / "cache",
    )
    settings.SDHOST = sdhost
    return tmp_path


class ApiClient(Client):
    """django.test.Client that sends JSON bodies and decodes JSON answers as `.json()`."""

    def _send(self, method, path, data=None, **kwargs):
        if data is not None and not isinstance(data, (bytes, str)):
            data = json.dumps(data)
        kwargs.setdefault("content_type", "application/json")
        return getattr(super(), method)(path, data, **kwargs)

    def post_json(self, path, data=None, **kwargs):
        return self._send("post", path, data, **kwargs)

    def put_json(self, path, data=None, **kwargs):
        return self._send("put", path, data, **kwargs)

    def delete_json(self, path, data=None, **kwargs):
        return self._send("delete", path, data, **kwargs)


@pytest.fixture
def api(db):
    return ApiClient()


def assert_error(response, status, code, *, parameter=None, pointer=None):
    """Check a JSON:API error document (D13) and return its first error."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"errors"}, body
    error = body["errors"][0]
    assert error["status"] == str(status)
    assert error["code"] == code, error
    assert error["title"] and error["detail"]
    if parameter is not None:
        assert error["source"] == {"parameter": parameter}, error
    if pointer is not None:
        assert error["source"] == {"pointer": pointer}, error
    return error


@pytest.fixture
def live_url(transactional_db):
    """Base URL of a real daphne server (ASGI: SSE works) sharing this test's database and settings."""
    from sdhost.testing import live_asgi_server

    return live_asgi_server()


def pytest_configure(config):
    # Tiny test models gain nothing from threads, and spinning OpenMP threads crawl on a loaded
    # 2-core CI machine; subprocesses (runworker) inherit the setting through the environment.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    import torch

    torch.set_num_threads(1)
