"""tasks_app.queue on the database: placement, claims, recovery, throughput, snapshots."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from system_app.models import SystemFact
from tasks_app import queue, throughput
from tasks_app.models import Task
from tests.tasks.test_tasks_api import make_model


def add(checkpoint, **fields):
    return queue.submit({"checkpoint": checkpoint, "prompt": "p", **fields})


@pytest.fixture
def ckpts(db):
    return make_model("alpha"), make_model("beta"), make_model("gamma")


def test_submit_groups_by_checkpoint_and_bumps_updated_at(ckpts):
    a, b, _ = ckpts
    a1, b1 = add(a), add(b)
    before = Task.objects.get(id=b1.id).updated_at
    a2 = add(a)
    assert [t.id for t in queue.pending_tasks()] == [a1.id, a2.id, b1.id]
    b1.refresh_from_db()
    assert (b1.overtaken, b1.queue_order) == (1, 2)
    assert b1.updated_at > before


def test_overtake_bound_from_settings(ckpts, settings):
    settings.SDHOST = {**settings.SDHOST, "MAX_OVERTAKE": 1}
    a, b, _ = ckpts
    a1, b1, a2, a3 = add(a), add(b), add(a), add(a)
    assert [t.id for t in queue.pending_tasks()] == [a1.id, a2.id, b1.id, a3.id]


def test_claim_next_takes_the_first_in_order(ckpts):
    a, b, _ = ckpts
    a1, b1, a2 = add(a), add(b), add(a)
    order = []
    while (task := queue.claim_next()) is not None:
        assert task.status == "running" and task.started_at is not None
        order.append(task.id)
        assert queue.finish(task, "completed")
    assert order == [a1.id, a2.id, b1.id]
    assert Task.objects.get(id=a1.id).completed_at is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_share_a_task():
    checkpoint = make_model("solo")
    ids = {add(checkpoint).id for _ in range(12)}
    claimed, errors = [], []
    lock = threading.Lock()

    def claimer():
        from django.db import connection

        try:
            while (task := queue.claim_next()) is not None:
                with lock:
                    claimed.append(task.id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(claimed) == sorted(ids)


def test_recover_interrupted_puts_running_tasks_first(ckpts):
    a, b, _ = ckpts
    first, second = add(a), add(b)
    running = queue.claim_next()
    assert running.id == first.id
    queue.promote([second.id])
    third = add(b)
    assert queue.recover_interrupted() == [first.id]
    first.refresh_from_db()
    assert (first.status, first.resumed) == ("pending", True)
    assert [t.id for t in queue.pending_tasks()] == [first.id, second.id, third.id]
    assert queue.claim_next().id == first.id
    assert Task.objects.get(id=first.id).resumed is False
    assert queue.recover_interrupted() == [first.id]


def test_finish_refuses_a_cancelled_task(ckpts):
    task = add(ckpts[0])
    running = queue.claim_next()
    cancelled, was_running, failed = queue.cancel([task.id])
    assert (cancelled, was_running, failed) == ([task.id], [task.id], [])
    assert queue.is_cancelled(task.id)
    assert not queue.finish(running, "completed")
    assert Task.objects.get(id=task.id).status == "cancelled"


def test_throughput_fits_fixed_and_per_unit_cost_per_architecture_and_device(db):
    small = Task(steps=10, width=500, height=500, batch_size=1)  # 0.25 megapixels a step
    large = Task(steps=30, width=1000, height=1000, batch_size=1)  # 1 megapixel a step
    assert throughput.current().task_seconds(small) == pytest.approx(2.0 + 10 * 0.15 * 0.25)  # built-in defaults
    # 2 s fixed; a step costs 0.1 s + 0.4 s per megapixel
    throughput.record(small, render_seconds=4.0, load_seconds=2.0, device="cuda", step_seconds=0.2)
    throughput.record(large, render_seconds=17.0, device="cuda", step_seconds=0.5)
    speed = throughput.current()
    assert speed.device == "cuda" and speed.models["cuda|unknown"].samples == 2
    third = Task(steps=20, width=500, height=500, batch_size=2)  # 0.5 megapixels a step
    assert speed.task_seconds(third) == pytest.approx(2.0 + 20 * 0.3, rel=1e-3)
    assert speed.load_seconds == pytest.approx(2.0) and speed.load_samples == 1
    throughput.record(small, render_seconds=1.0, device="cpu")  # another device: its own model
    assert throughput.current().models["cuda|unknown"].samples == 2
    assert SystemFact.objects.get(key=throughput.FACT_KEY).type == "json"


def test_throughput_of_the_old_format_keeps_only_the_switch_cost(db):
    SystemFact.objects.create(key=throughput.FACT_KEY, type="json",
                              value='{"seconds_per_unit": 0.5, "load_seconds": 3.0, "render_samples": 4, "load_samples": 2}')
    speed = throughput.current()
    assert speed.models == {} and speed.load_seconds == 3.0 and speed.load_samples == 2


def hms(text):
    hours, minutes, seconds = map(int, text.split(":"))
    return 3600 * hours + 60 * minutes + seconds


def test_format_hms():
    assert throughput.format_hms(0) == "00:00:00"
    assert throughput.format_hms(0.2) == "00:00:01"
    assert throughput.format_hms(3725) == "01:02:05"
    assert throughput.format_hms(100 * 3600) == "100:00:00"


def test_estimates_add_work_ahead_and_checkpoint_loads(ckpts):
    a, b, _ = ckpts
    # 1 s per step of one megapixel, no fixed cost
    throughput.record(Task(steps=1, width=1000, height=1000, batch_size=1), render_seconds=1.0, load_seconds=10.0)
    throughput.record(Task(steps=2, width=1000, height=1000, batch_size=1), render_seconds=2.0, step_seconds=1.0)
    t1 = add(a, steps=20, width=1000, height=1000)  # 20 s + load 10 s
    t2 = add(b, steps=10, width=1000, height=1000)  # + 10 s + load 10 s
    t3 = add(a, steps=10, width=1000, height=1000)  # joins a: + 10 s, no load
    assert hms(queue.estimated_time(t1.id)) == pytest.approx(30, abs=1)
    assert hms(queue.estimated_time(t3.id)) == pytest.approx(40, abs=1)
    assert hms(queue.estimated_time(t2.id)) == pytest.approx(60, abs=1)
    running = queue.claim_next()
    Task.objects.filter(id=running.id).update(started_at=timezone.now() - timedelta(seconds=15))
    # running t1 has 5 s left by elapsed time, 10 s at 50 % progress, 3 s as its worker measures it
    assert hms(queue.estimated_time(t3.id)) == pytest.approx(15, abs=1)
    assert hms(queue.estimated_time(t3.id, progress={t1.id: 0.5})) == pytest.approx(20, abs=1)
    live = {t1.id: throughput.LiveEstimate(fraction=0.5, seconds_left=3.0)}
    assert hms(queue.estimated_time(t3.id, progress=live)) == pytest.approx(13, abs=1)
    assert queue.snapshot(live)["current_task"]["eta"] == "00:00:03"


def test_snapshot_shape(ckpts):
    a, b, _ = ckpts
    assert queue.snapshot() == {"current_task": None, "current_tasks": [], "queue": [], "queue_length": 0}
    t1, t2, t3 = add(a), add(b), add(a)
    queue.claim_next()
    snap = queue.snapshot({t1.id: 0.625})
    current = snap["current_task"]
    assert snap["current_tasks"] == [current]
    assert current["id"] == t1.id and current["status"] == "running" and current["model"] == "alpha"
    assert current["progress"] == 62.5 and len(current["eta"].split(":")) == 3
    assert snap["queue"] == [
        {"id": t3.id, "status": "waiting", "model": "alpha", "position": 1},
        {"id": t2.id, "status": "waiting", "model": "beta", "position": 2},
    ]
    assert snap["queue_length"] == 2
