"""Several workers on one queue in the database (D41): claims, leases, recovery, progress, affinity."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app import queue
from tasks_app.models import RenderWorkerState, Task
from tests.tasks.test_tasks_api import make_model


def add(checkpoint, **fields):
    return queue.submit({"checkpoint": checkpoint, "prompt": "p", **fields})


def alive(*worker_ids):
    for worker_id in worker_ids:
        RenderWorkerState.objects.create(id=worker_id, host="h", pid=1, device="cpu")


@pytest.fixture
def ckpts(db):
    return make_model("alpha"), make_model("beta")


def test_claim_records_worker_lease_and_attempt(ckpts, settings):
    settings.SDHOST = {**settings.SDHOST, "TASK_LEASE_SECONDS": 30}
    alive("w1")
    task = add(ckpts[0])
    before = timezone.now()
    claimed = queue.claim_next("w1")
    assert claimed.id == task.id
    assert (claimed.status, claimed.worker_id, claimed.attempts) == ("running", "w1", 1)
    assert before + timedelta(seconds=29) < claimed.lease_expires_at <= timezone.now() + timedelta(seconds=30)
    Task.objects.filter(id=task.id).update(lease_expires_at=before)
    assert queue.renew_leases("w1") == 1
    assert Task.objects.get(id=task.id).lease_expires_at > before + timedelta(seconds=29)
    assert queue.renew_leases("w2") == 0


def test_a_held_lease_is_never_recovered(ckpts):
    alive("w1")
    add(ckpts[0])
    queue.claim_next("w1")
    assert queue.recover_interrupted() == []
    assert Task.objects.get().status == "running"


def test_expired_lease_goes_back_first_then_fails_after_its_attempts(ckpts, settings):
    settings.SDHOST = {**settings.SDHOST, "TASK_MAX_ATTEMPTS": 2}
    alive("w1", "w2")
    task, other = add(ckpts[0]), add(ckpts[1])
    for attempt in (1, 2):
        assert queue.claim_next("w1").id == task.id
        Task.objects.filter(id=task.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        recovered = queue.recover_interrupted()
        row = Task.objects.get(id=task.id)
        if attempt == 1:
            assert recovered == [task.id]
            assert (row.status, row.resumed, row.worker_id, row.lease_expires_at) == ("pending", True, None, None)
            assert queue.positions()[task.id] == 1
        else:
            assert recovered == []
            assert row.status == "failed"
            assert "Interrupted 2 times" in row.error_message and "lease" in row.error_message
    assert Task.objects.get(id=other.id).status == "pending"


def test_task_of_a_silent_worker_is_recovered_before_its_lease_ends(ckpts):
    alive("w1")
    task = add(ckpts[0])
    queue.claim_next("w1")
    RenderWorkerState.objects.filter(id="w1").update(heartbeat_at=timezone.now() - queue.WORKER_STALE * 2)
    assert queue.recover_interrupted() == [task.id]


def test_a_recovered_task_can_no_longer_be_finished_by_its_old_worker(ckpts):
    alive("w1", "w2")
    add(ckpts[0])
    first = queue.claim_next("w1")
    Task.objects.filter(id=first.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    queue.recover_interrupted()
    second = queue.claim_next("w2")
    assert second.id == first.id
    assert queue.report_progress(first, 0.5) is False  # the stalled worker learns it lost the task
    assert queue.finish(first, "completed") is False
    assert queue.report_progress(second, 0.5) is True
    assert queue.finish(second, "completed") is True
    assert Task.objects.get(id=first.id).attempts == 2


def test_affinity_claim_counts_as_an_overtake(ckpts):
    a, b = ckpts
    alive("w1")
    a1, b1 = add(a), add(b)
    claimed = queue.claim_next("w1", loaded_checkpoint=b.hash)
    assert claimed.id == b1.id
    assert Task.objects.get(id=a1.id).overtaken == 1
    assert queue.claim_next("w1", loaded_checkpoint=b.hash).id == a1.id


def test_snapshot_lists_every_running_task_with_stored_progress(ckpts):
    a, b = ckpts
    alive("w1", "w2")
    t1, t2, t3 = add(a), add(b), add(a)
    first = queue.claim_next("w1")
    second = queue.claim_next("w2", loaded_checkpoint=b.hash)
    assert (first.id, second.id) == (t1.id, t2.id)
    queue.report_progress(second, 0.25)  # what worker w2 stores for other processes
    snap = queue.snapshot({t1.id: 0.5})  # this process runs w1
    assert [c["id"] for c in snap["current_tasks"]] == [t1.id, t2.id]
    assert snap["current_task"] == snap["current_tasks"][0]
    assert [c["progress"] for c in snap["current_tasks"]] == [50.0, 25.0]
    assert [q["id"] for q in snap["queue"]] == [t3.id]


def test_cancel_reaches_the_worker_through_the_database(ckpts):
    alive("w1")
    task = add(ckpts[0])
    claimed = queue.claim_next("w1")
    assert queue.cancel([task.id])[1] == [task.id]  # e.g. in another server process
    assert queue.report_progress(claimed, 0.3) is False  # the worker's next poll stops the render


def test_a_merged_claim_leases_each_task_and_recovers_each(ckpts, settings):
    a, b = ckpts
    alive("w1", "w2")
    tasks = [add(a) for _ in range(3)] + [add(b)]
    claimed = queue.claim_batch("w1", None, max_images=2)
    assert [t.id for t in claimed] == [t.id for t in tasks[:2]]
    assert all((t.status, t.worker_id, t.attempts) == ("running", "w1", 1) for t in claimed)
    # another worker goes on behind the batch, in order
    assert [t.id for t in queue.claim_batch("w2", None, 8)] == [tasks[2].id]
    assert queue.renew_leases("w1") == 2
    Task.objects.filter(worker_id="w1").update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert sorted(queue.recover_interrupted()) == sorted(t.id for t in claimed)
    assert [t.id for t in queue.pending_tasks()] == [tasks[0].id, tasks[1].id, tasks[3].id]
    again = queue.claim_batch("w2", None, 8)  # resumed ones first, together again
    assert [t.id for t in again] == [tasks[0].id, tasks[1].id]
    assert [t.attempts for t in again] == [2, 2]
    assert queue.finish(claimed[0], "completed") is False  # the old worker holds nothing any more
    assert queue.finish(again[0], "completed") is True


def test_a_merged_affinity_claim_counts_an_overtake_per_task(ckpts):
    a, b = ckpts
    alive("w1", "w2")
    a1, b1, b2 = add(a), add(b), add(b)
    claimed = queue.claim_batch("w1", b.hash, 4)
    assert [t.id for t in claimed] == [b1.id, b2.id]
    assert Task.objects.get(id=a1.id).overtaken == 2


def test_the_batch_signature_is_stored_at_submit_and_decides_merging(ckpts):
    a, _ = ckpts
    tasks = [add(a) for _ in range(4)] + [add(a, steps=7), add(a)]
    signatures = [Task.objects.get(id=t.id).batch_signature for t in tasks]
    assert signatures[0] and len(set(signatures[:4])) == 1 and signatures[4] != signatures[0] == signatures[5]
    Task.objects.filter(id=tasks[1].id).update(batch_signature=None)  # e.g. a task from before the column
    assert [t.id for t in queue.claim_batch("w1", None, 8)] == [tasks[0].id]  # never merged with a None
    assert [t.id for t in queue.claim_batch("w1", None, 8)] == [tasks[1].id]
    assert [t.id for t in queue.claim_batch("w1", None, 8)] == [tasks[2].id, tasks[3].id]  # other steps end it
    assert [t.id for t in queue.claim_batch("w1", None, 1)] == [tasks[4].id]
