"""The `civitai` fixture (a fake Civitai per test; registered for every test by tests/conftest.py) and the helpers of
the Civitai tests: waiting for imports, an interrupted import."""

import hashlib
import os
import time

import pytest

from models_app.civitai import manager
from models_app.models import CivitaiImport, SDModel
from tests.support.fake_civitai import FakeCivitai, png_bytes

URL = "/api/models/add-from-civitai"
DATA = os.urandom(2 * 1024 * 1024 + 12345)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def civitai(settings):
    fake = FakeCivitai().start()
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_BASE_URL": fake.base_url, "CIVITAI_TOKEN": None,
                       "CIVITAI_ENABLED": True, "DOWNLOAD_CONCURRENCY": 2}
    fake.add_model(10391, "Dreamlike Valley", description="<h1>Dreamlike Valley</h1><p>Soft <b>light</b>.</p>",
                   tags=["scenery", "painterly", "a-very-long-tag-name-over-20"])
    fake.add_version(10391, 88214, DATA, name="v3", base_model="SDXL 1.0", trained_words=["dlvalley"],
                     file_name="dreamlikeValley_v3.safetensors", preview=png_bytes())
    yield fake
    for model_hash in manager.manager.active_hashes():
        manager.cancel_import(model_hash)
    fake.stop()


def wait_final(model_hash, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = SDModel.objects.get(pk=model_hash)
        if model.status != "downloading" and not manager.manager.is_active(model_hash):
            return model
        time.sleep(0.02)
    raise AssertionError(f"import of {model_hash} did not finish")


def wait_for(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def prepare_interrupted_import(civitai, have):
    """The state SD-Host leaves behind when it stops mid-download: a row, its record, a partial file."""
    plan = manager.fetch_plan(10391, None, manager.CivitaiClient())
    manager.create_or_restart(plan)
    manager.part_path(SHA).parent.mkdir(parents=True, exist_ok=True)
    manager.part_path(SHA).write_bytes(DATA[:have])
    CivitaiImport.objects.filter(pk=SHA).update(bytes_done=have, validator='"v1"')
    civitai.api_requests.clear()
