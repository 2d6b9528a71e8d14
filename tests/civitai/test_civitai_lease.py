"""One download per Civitai import across processes (D41): the lease on the import row."""

from datetime import timedelta

from django.utils import timezone

from models_app.civitai import lease, manager
from models_app.models import CivitaiImport, SDModel
from tests.support.civitai import SHA, prepare_interrupted_import, wait_final, wait_for


def held_by(owner, seconds):
    CivitaiImport.objects.filter(pk=SHA).update(owner=owner, lease_expires_at=timezone.now() + timedelta(seconds=seconds))


def test_lease_is_exclusive_until_it_expires(client, civitai):
    prepare_interrupted_import(civitai, 1000)
    assert lease.acquire(SHA) and lease.acquire(SHA)  # taken, and kept by the same process
    assert not lease.held_elsewhere(SHA) and not lease.orphaned(SHA)
    lease.release(SHA)
    held_by("other-process", 10)
    assert not lease.acquire(SHA) and lease.held_elsewhere(SHA)
    assert not lease.renew(SHA, bytes_done=5)  # not ours
    held_by("other-process", -1)  # it died
    assert lease.orphaned(SHA) and not lease.held_elsewhere(SHA)
    assert lease.acquire(SHA) and lease.renew(SHA, bytes_done=5)
    assert CivitaiImport.objects.get(pk=SHA).bytes_done == 5


def test_an_import_held_by_a_live_process_is_not_downloaded_here(client, civitai):
    prepare_interrupted_import(civitai, 1000)
    held_by("other-process", 30)
    assert manager.resume_pending_imports() == [SHA]
    wait_for(lambda: not manager.manager.is_active(SHA))
    assert civitai.file_requests == []
    assert SDModel.objects.get(pk=SHA).status == "downloading"
    assert manager.import_state(SHA)["status"] == "downloading"  # followed, not taken over
    assert not manager.manager.is_active(SHA)


def test_an_import_whose_process_died_is_resumed_by_the_next_reader(client, civitai, settings):
    settings.SDHOST = {**settings.SDHOST, "AUTO_DOWNLOAD": True}
    prepare_interrupted_import(civitai, 1_000_000)
    held_by("dead-process", -1)
    assert manager.import_state(SHA)["status"] == "downloading"  # e.g. a client opening its stream
    model = wait_final(SHA)
    assert model.status == "ready", model.error_message
    assert civitai.file_requests == [{"range": "bytes=1000000-", "if_range": '"v1"', "authorization": None}]
    assert CivitaiImport.objects.get(pk=SHA).owner is None  # released
