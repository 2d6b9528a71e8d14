"""One download per Civitai import across processes (D41): a lease on its `civitai_imports` row.

A process takes the lease before downloading and renews it with every progress write (about once
a second); a lease not renewed for LEASE_SECONDS (its process died) may be taken by another
process, which resumes from the partial file on the shared SDHOST_CACHE_PATH.
"""

import uuid
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from models_app.models import CivitaiImport

PROCESS_ID = uuid.uuid4().hex  # this process
LEASE_SECONDS = 15


def _until():
    return timezone.now() + timedelta(seconds=LEASE_SECONDS)


def acquire(model_hash) -> bool:
    """Take (or keep) the download of `model_hash` for this process; False while another holds it."""
    free = Q(owner=None) | Q(owner=PROCESS_ID) | Q(lease_expires_at__lt=timezone.now())
    return bool(CivitaiImport.objects.filter(free, pk=model_hash).update(owner=PROCESS_ID, lease_expires_at=_until()))


def renew(model_hash, **changes) -> bool:
    """Extend this process's lease, writing `changes` in the same statement; False if the lease was lost."""
    return bool(CivitaiImport.objects.filter(pk=model_hash, owner=PROCESS_ID).update(lease_expires_at=_until(), **changes))


def release(model_hash) -> None:
    CivitaiImport.objects.filter(pk=model_hash, owner=PROCESS_ID).update(owner=None, lease_expires_at=None)


def held_elsewhere(model_hash) -> bool:
    """Whether another live process is downloading `model_hash`."""
    return CivitaiImport.objects.filter(pk=model_hash, lease_expires_at__gte=timezone.now()).exclude(
        owner=PROCESS_ID).exclude(owner=None).exists()


def orphaned(model_hash) -> bool:
    """Whether a process was downloading `model_hash` and stopped renewing its lease (it died)."""
    return CivitaiImport.objects.filter(pk=model_hash, lease_expires_at__lt=timezone.now()).exclude(owner=None).exists()
