"""Scale-out benchmark (D40, D41): render workers as separate processes on PostgreSQL + Redis.

    python bench/scale_bench.py [--tasks 200] [--workers 1,2,4] [--postgres postgres://postgres@127.0.0.1:5432]
                                [--redis redis://127.0.0.1:6379/0]

For each worker count: a fresh queue in a throw-away database, one server (uvicorn), N
`manage.py runworker render` processes (one torch thread each, CPU), `--tasks` tiny tasks over 3
checkpoints submitted through the API, and an SSE client on the server's queue stream. Reports:

- throughput (tasks/s from the first start to the last completion) and double runs (must be 0:
  a task started twice or with more images than its batch);
- SSE latency: from a task's `started_at` (written by the worker's claim) to the arrival at the
  client of the first snapshot listing it as running, p50/p99 (target p99 < 100 ms);
- claim latency: N processes calling tasks_app.queue.claim_next on a queue of `--tasks` pending
  tasks with no rendering, p50/p99 per claim, and double claims (must be 0).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLAIMER = """
import json, time
from tasks_app import queue
worker_id = "claimer-{n}"
latencies, claimed = [], []
while True:
    started = time.perf_counter()
    task = queue.claim_next(worker_id)
    latencies.append(time.perf_counter() - started)
    if task is None:
        break
    claimed.append(task.id)
print("RESULT", json.dumps({{"latencies": latencies[:-1], "claimed": claimed}}))
"""


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else float("nan")


def render_run(cluster, checkpoints, workers, tasks, submit):
    import requests

    from tests.support.cluster import SSEClient

    cluster.sql("DELETE FROM image_models; DELETE FROM images; DELETE FROM task_models; DELETE FROM task_tags; DELETE FROM tasks; "
                "DELETE FROM render_workers")
    url = cluster.start_server()
    processes = [cluster.start_worker(OMP_NUM_THREADS="1") for _ in range(workers)]
    for process in processes:
        cluster.worker_id(process)
    # warm-up: every worker loads the three checkpoints once, outside the measurement
    warm = [submit(url, checkpoints[i % 3], seed=10_000 + i) for i in range(3 * workers)]
    wait(cluster, warm)
    cluster.sql("DELETE FROM image_models; DELETE FROM images; DELETE FROM tasks")
    stream = SSEClient(f"{url}/api/tasks/queue")
    ids = [submit(url, checkpoints[i % 3], seed=i) for i in range(tasks)]
    wait(cluster, ids)
    time.sleep(0.5)
    stream.close()
    rows = cluster.sql("SELECT id, attempts, extract(epoch from started_at), extract(epoch from completed_at) "
                       "FROM tasks")
    images = dict(cluster.sql("SELECT task_id, count(*) FROM images GROUP BY task_id"))
    doubles = sum(1 for task_id, attempts, _, _ in rows if attempts != 1 or images.get(task_id, 0) != 1)
    first_start = min(float(start) for _, _, start, _ in rows)
    last_end = max(float(end) for _, _, _, end in rows)
    started = {task_id: float(start) for task_id, _, start, _ in rows}
    seen = {}
    for event, arrived in zip(stream.events, stream.arrivals):
        for current in event.get("current_tasks", []):
            seen.setdefault(current["id"], arrived)
    latencies = [seen[task_id] - started[task_id] for task_id in started if task_id in seen]
    for process in processes:
        process.terminate()
        process.wait(30)
    cluster.processes = [p for p in cluster.processes if p.poll() is None]
    requests.Session().close()
    return {
        "throughput": tasks / (last_end - first_start), "doubles": doubles,
        "sse_seen": len(latencies), "sse_p50": percentile(latencies, 50), "sse_p99": percentile(latencies, 99),
    }


def claim_run(cluster, checkpoint, processes, tasks):
    import subprocess

    cluster.sql("DELETE FROM image_models; DELETE FROM images; DELETE FROM tasks")
    script = ("from models_app.models import SDModel; from tasks_app import queue\n"
              f"c = SDModel.objects.get(hash={checkpoint!r})\n"
              f"for i in range({tasks}): queue.submit({{'checkpoint': c, 'prompt': 'p'}})")
    cluster.manage("shell", "-c", script)
    claimers = [subprocess.Popen([sys.executable, "manage.py", "shell", "-c", CLAIMER.format(n=n)], cwd=ROOT,
                                 env=cluster.env, stdout=subprocess.PIPE, text=True) for n in range(processes)]
    results = []
    for claimer in claimers:
        out, _ = claimer.communicate(timeout=600)
        results.append(json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:]))
    claimed = [task_id for r in results for task_id in r["claimed"]]
    latencies = [s for r in results for s in r["latencies"]]
    return {"claims": len(claimed), "double_claims": len(claimed) - len(set(claimed)),
            "claim_p50": percentile(latencies, 50), "claim_p99": percentile(latencies, 99)}


def wait(cluster, ids, timeout=1800):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = dict(cluster.sql("SELECT status, count(*) FROM tasks WHERE id = ANY(%s) GROUP BY status", (ids,)))
        if done.get("completed", 0) + done.get("failed", 0) == len(ids):
            assert not done.get("failed"), cluster.logs()
            return
        time.sleep(0.2)
    raise RuntimeError("tasks did not finish\n" + cluster.logs())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    os.environ["SDHOST_DATABASE_URL"] = f"{args.postgres}/postgres"  # the server the cluster's database goes on
    os.environ["SDHOST_TEST_REDIS_URL"] = args.redis

    from tests.support.cluster import Cluster, make_checkpoints, submit

    counts = [int(n) for n in args.workers.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sdhost-scale-bench-") as data:
        cluster = Cluster(Path(data))
        try:
            checkpoints = make_checkpoints(cluster, 3)
            for workers in counts:
                render = render_run(cluster, checkpoints, workers, args.tasks, submit)
                claims = claim_run(cluster, checkpoints[0], workers, args.tasks)
                rows.append((workers, render, claims))
                print(f"{workers} worker(s): {render} {claims}", flush=True)
        finally:
            cluster.close()
    print(f"\n{args.tasks} tiny tasks (64x64, 3 steps, Euler) over 3 checkpoints; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    header = (f"{'workers':>7} {'tasks/s':>8} {'double runs':>11} {'SSE p50 ms':>10} {'SSE p99 ms':>10} "
              f"{'claim p50 ms':>12} {'claim p99 ms':>12} {'double claims':>13}")
    print(header)
    print("-" * len(header))
    for workers, render, claims in rows:
        print(f"{workers:>7} {render['throughput']:>8.2f} {render['doubles']:>11} {render['sse_p50'] * 1000:>10.0f} "
              f"{render['sse_p99'] * 1000:>10.0f} {claims['claim_p50'] * 1000:>12.1f} {claims['claim_p99'] * 1000:>12.1f}"
              f" {claims['double_claims']:>13}")


if __name__ == "__main__":
    main()
