"""Several processes on one PostgreSQL database and Redis (D40, D41), all real: server processes (uvicorn) and
`runworker render` workers as subprocesses, tiny random-weight checkpoints rendered on the CPU, a
fake Civitai on a real socket. Skipped, with the reason, when PostgreSQL or Redis is not reachable."""

import os
import signal
import time
from collections import Counter

import pytest
import requests

from tests.support.civitai import DATA, SHA
from tests.support.cluster import Cluster, SSEClient, make_checkpoints, require_services, submit
from tests.support.fake_civitai import FakeCivitai

pytestmark = pytest.mark.multiprocess


@pytest.fixture
def cluster(tmp_path):
    require_services()
    made = Cluster(tmp_path / "shared", TASK_LEASE_SECONDS=4, MAX_OVERTAKE=8)
    yield made
    made.close()


def wait_until(predicate, timeout, what, cluster):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{cluster.logs()}")


def statuses(cluster):
    return dict(cluster.sql("SELECT id, status FROM tasks"))


def test_two_workers_render_forty_tasks_once_each_and_every_stream_sees_them(cluster):
    checkpoints = make_checkpoints(cluster, 3)
    url = cluster.start_server()
    workers = [cluster.start_worker(), cluster.start_worker()]
    worker_ids = {cluster.worker_id(w) for w in workers}
    stream = SSEClient(f"{url}/api/tasks/queue")
    try:
        ids = [submit(url, checkpoints[i % 3], seed=i) for i in range(40)]
        wait_until(lambda: all(statuses(cluster).get(i) == "completed" for i in ids), 400, "40 tasks", cluster)
        time.sleep(1)  # the last snapshots
    finally:
        stream.close()
    rows = cluster.sql("SELECT id, worker_id, attempts FROM tasks")
    assert {task_id for task_id, _, _ in rows} == set(ids)
    assert all(attempts == 1 for _, _, attempts in rows)  # each ran exactly once
    by_worker = Counter(worker_id for _, worker_id, _ in rows)
    assert set(by_worker) == worker_ids and min(by_worker.values()) >= 1, by_worker  # both did work
    images = Counter(task_id for (task_id,) in cluster.sql("SELECT task_id FROM images"))
    assert images == Counter(ids)  # one image per task, none twice
    # the stream of the server process saw every task run in the worker processes, and all done
    seen_running = {c["id"] for event in stream.events for c in event.get("current_tasks", [])}
    assert seen_running == set(ids)
    assert stream.events[-1]["queue_length"] == 0 and stream.events[-1]["current_tasks"] == []
    health = requests.get(f"{url}/api/health", timeout=10).json()
    assert health["status"] == "ok" and {w["id"] for w in health["workers"]} == worker_ids
    assert all(w["device"] == "cpu" and w["checkpoint_hash"] in checkpoints for w in health["workers"])


def test_a_killed_workers_tasks_are_recovered_by_the_other_within_the_lease(cluster):
    """The first worker renders the three compatible tasks as one merged batch (each with its own lease); frozen
    mid-render and killed, all three go back to the queue and the other worker renders each once."""
    [checkpoint] = make_checkpoints(cluster, 1)
    url = cluster.start_server()
    ids = [submit(url, checkpoint, steps=60, width=128, height=128, seed=i) for i in range(3)]
    first = cluster.start_worker()  # the whole stream is queued: it claims the three together
    first_id = cluster.worker_id(first)

    def running_on_first():
        rows = cluster.sql("SELECT id FROM tasks WHERE status = 'running' AND worker_id = %s", (first_id,))
        return rows if len(rows) == len(ids) else None

    victims = {task_id for (task_id,) in wait_until(running_on_first, 120, "the merged batch on the first worker",
                                                      cluster)}
    assert victims == set(ids)
    os.kill(first.pid, signal.SIGSTOP)  # mid-render, silent from now on, until the other worker is up
    second = cluster.start_worker()
    second_id = cluster.worker_id(second)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()

    def recovered():  # back in front of the queue, or already taken by the other worker
        rows = cluster.sql("SELECT status, resumed, worker_id FROM tasks")
        return all((status, resumed) == ("pending", True) or worker_id == second_id
                   for status, resumed, worker_id in rows)

    wait_until(recovered, 4 + 10 + 30, "the victims' recovery", cluster)
    assert time.monotonic() - killed_at < 4 + 2 + 10  # lease + one heartbeat (+ a loaded machine's slack)
    wait_until(lambda: all(statuses(cluster)[i] == "completed" for i in ids), 300, "all tasks", cluster)
    rows = cluster.sql("SELECT worker_id, attempts FROM tasks")
    assert rows == [(second_id, 2)] * len(ids)
    images = Counter(task_id for (task_id,) in cluster.sql("SELECT task_id FROM images"))
    assert images == Counter(ids)  # nothing stored twice, nothing lost


def test_an_import_requested_from_two_servers_downloads_once(cluster):
    fake = FakeCivitai().start()
    try:
        fake.add_model(10391, "Dreamlike Valley")
        fake.add_version(10391, 88214, DATA, file_name="dreamlikeValley_v3.safetensors")
        fake.throttle_bps = 1024 * 1024  # about two seconds of download
        env = {"SDHOST_CIVITAI_BASE_URL": fake.base_url, "SDHOST_AUTO_DOWNLOAD": "false"}
        first, second = cluster.start_server(**env), cluster.start_server(**env)
        body = {"model_id": 10391, "version_id": 88214}
        answers = [requests.post(f"{url}/api/models/add-from-civitai", json=body, timeout=60) for url in (first, second)]
        assert [a.json()["hash"] for a in answers] == [SHA, SHA]
        stream = SSEClient(f"{second}/api/models/add-from-civitai/{SHA}")  # the other process's progress
        wait_until(lambda: stream.events and stream.events[-1]["status"] in ("completed", "failed"), 120,
                   "the import's final event", cluster)
        stream.close()
        assert stream.events[-1]["status"] == "completed"
        assert len(fake.file_requests) == 1
        assert cluster.sql("SELECT status, size FROM models WHERE hash = %s", (SHA,)) == [("ready", len(DATA))]
    finally:
        fake.stop()
