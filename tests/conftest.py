"""Shared fixtures: every test gets its own data directory and a JSON API client; a live server and the
in-process render worker on request."""

import os

import pytest

from tests.support.api import ApiClient

# Fixture modules shared across test folders (a folder's own fixtures are in its conftest.py).
pytest_plugins = ["tests.support.civitai"]


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
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # Django's test client; never in production
    return tmp_path


@pytest.fixture
def api(db):
    return ApiClient()


@pytest.fixture
def live_url(transactional_db):
    """Base URL of a real server (uvicorn) (ASGI: SSE works) sharing this test's database and settings."""
    from tests.support.live_server import live_asgi_server

    return live_asgi_server()


@pytest.fixture
def render_worker(transactional_db):
    """The render worker, running in this process for the test."""
    from tasks_app import worker

    started = worker.start_in_process()
    yield started
    worker.stop_in_process()


def pytest_configure(config):
    # Tiny test models gain nothing from threads, and spinning OpenMP threads crawl on a loaded
    # 2-core CI machine; subprocesses (runworker) inherit the setting through the environment.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    import torch

    torch.set_num_threads(1)
