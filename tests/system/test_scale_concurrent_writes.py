"""Many writers at once on PostgreSQL (issue 23, item 2): real concurrent HTTP clients against a real server.

Tagged task submissions race tag updates of their checkpoint, image deletes race tag updates of the same
images, every request in its own server thread with its own connection. Every answer must be an expected
status (never a 500: no "deadlock detected", no foreign-key IntegrityError), and the maintained tag counts must
equal the link rows afterwards. Bounded: a fixed number of requests, each with a timeout. SQLite has one writer at a
time (nothing to race), so the test runs in the suite's PostgreSQL pass.

Connections are bounded by default (a pool per process); when every connection is taken, a request waits for one
up to SDHOST_DATABASE_POOL_TIMEOUT and is then answered 503 with Retry-After, in the shape of its API.
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from core.tag_counts import TAG_WRITERS_LOCK
from tests.support.cluster import ROOT, Cluster, require_services
from tests.support.factories import make_image, make_model

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent writers race on PostgreSQL only (SQLite takes one writer at a time); runs in the suite's "
           "PostgreSQL pass (SDHOST_DATABASE_URL)",
)

CLIENTS = 12
ROUNDS = 4  # each client: this many (submission, model update, image update, image delete) rounds
TAGS = ["red", "green", "blue", "amber", "violet", "teal"]


def link_counts_agree():
    """(entity, stored tag_count, link rows) where they differ, and tag_usage rows that differ from the links."""
    with connection.cursor() as cursor:
        wrong = []
        for table, link, key, column in (("models", "model_tags", "hash", "model_hash"),
                                         ("images", "image_tags", "hash", "image_hash"),
                                         ("tasks", "task_tags", "id", "task_id")):
            cursor.execute(f"SELECT e.{key}, e.tag_count, (SELECT COUNT(*) FROM {link} l WHERE l.{column} = e.{key}) "
                           f"FROM {table} e")
            wrong += [row for row in cursor.fetchall() if row[1] != row[2]]
            cursor.execute(f"SELECT t.name, COALESCE(u.uses, 0), (SELECT COUNT(*) FROM {link} l "
                           f"WHERE l.tag_name = t.name) FROM tags t LEFT JOIN tag_usage u ON u.tag_name = t.name "
                           f"AND u.link = %s", [link])
            wrong += [row for row in cursor.fetchall() if row[1] != row[2]]
        return wrong


@on_postgresql
def test_tagged_submissions_updates_and_deletes_at_once_never_answer_500(live_url):
    checkpoint = make_model(name="shared")
    images = [make_image().hash for _ in range(CLIENTS // 3 * ROUNDS)]
    answers, lock = [], threading.Lock()
    start = threading.Barrier(CLIENTS)

    def call(method, path, body):
        response = requests.request(method, f"{live_url}{path}", json=body, timeout=60)
        with lock:
            answers.append((method, path.split("/")[2], response.status_code, response.text[:300]))

    def client(n):
        rng = random.Random(n)
        start.wait(30)
        for round_ in range(ROUNDS):
            tags = rng.sample(TAGS, 3) + [f"new-{round_}-{n % 3}"]  # shared tags and tags made concurrently
            image = images[n // 3 * ROUNDS + round_]  # three clients update and delete it at once
            for method, path, body in rng.sample([
                ("POST", "/api/tasks", {"checkpoint_hash": checkpoint.hash, "prompt": f"p{n}", "tags": tags}),
                ("POST", f"/api/models/{checkpoint.hash}", {"tags": list(reversed(tags)), f"tag_x{n % 4}": True}),
                ("POST", f"/api/images/{image}", {"tags": tags}),
                ("DELETE", f"/api/images/{image}", None),
            ], 4):
                call(method, path, body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))

    assert len(answers) == CLIENTS * ROUNDS * 4
    expected = {("POST", "tasks"): {202}, ("POST", "models"): {200}, ("POST", "images"): {200, 404},
                ("DELETE", "images"): {200, 404}}
    unexpected = [a for a in answers if a[2] not in expected[a[0], a[1]]]
    assert not unexpected, unexpected[:5]
    assert link_counts_agree() == []


@on_postgresql
def test_a_deadlock_victim_is_run_again(live_url):
    """A real deadlock, deterministic: this test's connection locks a model row, a tagged update of that model (the
    tag writers' lock taken first) waits for the row, then this connection asks for the tag writers' lock. The
    update, waiting longer, is the victim PostgreSQL aborts (this session's deadlock_timeout is 10 s); it runs again
    once the lock is free and answers 200, not 500."""
    import psycopg

    model = make_model()
    settings = connection.settings_dict
    with psycopg.connect(dbname=settings["NAME"], host=settings["HOST"] or None, port=settings["PORT"] or None,
                         user=settings["USER"] or None, password=settings["PASSWORD"] or None) as holder, \
            ThreadPoolExecutor(1) as pool:
        holder.execute("SET deadlock_timeout = '10s'")
        holder.execute("SELECT 1 FROM models WHERE hash = %s FOR UPDATE", [model.hash])
        update = pool.submit(requests.post, f"{live_url}/api/models/{model.hash}", json={"tag_deadlocked": True},
                             timeout=60)
        deadline = time.monotonic() + 30
        while not holder.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                                 "wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchone()[0]:
            assert time.monotonic() < deadline and not update.done(), "the update never waited for the row"
            time.sleep(0.02)
        started = time.monotonic()
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [TAG_WRITERS_LOCK])  # closes the cycle
        assert time.monotonic() - started < 8  # granted: the update was the victim and let go of the lock
        holder.rollback()
        response = update.result()
    assert response.status_code == 200, response.text
    assert list(model.tags.values_list("name", flat=True)) == ["deadlocked"]


def database_settings(**env):
    """settings.DATABASES["default"] of a fresh process with `env` (SDHOST_* names without the prefix)."""
    script = ("import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'sdhost.settings'; "
              "from django.conf import settings; print(json.dumps(settings.DATABASES['default'], default=str))")
    environment = {**os.environ, **{f"SDHOST_{key}": value for key, value in env.items()}}
    for key in ("SDHOST_DATABASE_POOL", "SDHOST_DATABASE_POOL_TIMEOUT", "SDHOST_DATABASE_CONN_MAX_AGE"):
        if key[len("SDHOST_"):] not in env:
            environment.pop(key, None)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgresql_connections_are_bounded_by_default():
    url = "postgres://sdhost@127.0.0.1:5432/library"
    assert database_settings(DATABASE_URL=url)["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 16, "timeout": 10.0}
    sized = database_settings(DATABASE_URL=url, DATABASE_POOL="4", DATABASE_POOL_TIMEOUT="2.5")
    assert sized["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 2.5}
    assert "pool" not in database_settings(DATABASE_URL=url, DATABASE_POOL="0").get("OPTIONS", {})
    kept = database_settings(DATABASE_URL=url, DATABASE_CONN_MAX_AGE="60")  # the older setting, chosen explicitly
    assert "pool" not in kept.get("OPTIONS", {}) and kept["CONN_MAX_AGE"] == 60


@pytest.mark.multiprocess
def test_an_exhausted_connection_pool_answers_503_with_retry_after(tmp_path):
    """Both pooled connections of a server process are held by tagged updates waiting for the tag writers' lock
    (which this test holds): the next request waits POOL_TIMEOUT for a connection, then gets a 503 with
    Retry-After, a JSON:API document under /api and A1111's shape under /sdapi. Released, the waiting updates end
    normally."""
    require_services()
    import psycopg

    cluster = Cluster(tmp_path / "shared", DATABASE_POOL=2, DATABASE_POOL_TIMEOUT=1)
    try:
        url = cluster.start_server()
        unknown = "ab" * 32
        with psycopg.connect(cluster.url) as holder, ThreadPoolExecutor(2) as pool:
            holder.execute("SELECT pg_advisory_xact_lock(%s)", [TAG_WRITERS_LOCK])
            blocked = [pool.submit(requests.post, f"{url}/api/models/{unknown}", json={"tags": ["x"]}, timeout=60)
                       for _ in range(2)]
            deadline = time.monotonic() + 30
            while cluster.sql("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
                              "database = (SELECT oid FROM pg_database WHERE datname = current_database())")[0][0] < 2:
                assert time.monotonic() < deadline, cluster.logs()
                time.sleep(0.1)
            api = requests.get(f"{url}/api/models", timeout=30)
            a1111 = requests.get(f"{url}/sdapi/v1/sd-models", timeout=30)
            holder.rollback()
            answers = [future.result() for future in blocked]
        assert api.status_code == 503, api.text
        assert api.headers["Retry-After"] == "2"
        assert api.json()["errors"][0]["code"] == "database_busy"
        assert a1111.status_code == 503 and a1111.headers["Retry-After"] == "2", a1111.text
        assert set(a1111.json()) >= {"error", "detail"}
        assert [answer.status_code for answer in answers] == [404, 404]
        assert requests.get(f"{url}/api/models", timeout=30).status_code == 200
    finally:
        cluster.close()
