"""Idle live streams cost the server no thread and no database connection, and give back their sockets on close
(issue 23 item 5; bench/stream_bench.py measures 2,000 of them).

The live server runs in this process (tests/support/live_server.py), so its threads, file descriptors and
database connections are counted here: the queue stream and the Civitai import progress stream, opened from
real sockets, each having received its first event (the current state, read from the database).
"""

import socket
import time
from urllib.parse import urlsplit

import psutil
import pytest
from django.db import connection

from tests.support.factories import make_model

QUEUE_STREAMS = 150
IMPORT_STREAMS = 50
SLACK = 12  # pooled threads and descriptors that start on first use (the read pool, the loop's own)


def open_stream(address, path):
    """A socket whose stream has sent its response head and its first event."""
    sock = socket.create_connection(address, timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    received = b""
    while b"\n\n" not in received.partition(b"data: ")[2]:
        chunk = sock.recv(65536)
        assert chunk, f"the stream closed before its first event: {received[:300]!r}"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received[:300]
    return sock


def database_connections():
    """Open connections to the test database: the server's and this test's own."""
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        return sum(1 for f in psutil.Process().open_files() if f.path == name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def usage():
    process = psutil.Process()
    return {"threads": process.num_threads(), "fds": process.num_fds(), "db": database_connections()}


def settled(limit, seconds=15):
    """usage() once it is within `limit` (or at the deadline)."""
    deadline = time.monotonic() + seconds
    while True:
        now = usage()
        if all(now[key] <= limit[key] for key in limit) or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


@pytest.fixture
def downloading(settings):
    settings.SDHOST = {**settings.SDHOST, "AUTO_DOWNLOAD": False}  # the stream reads the state; nothing resumes it
    return make_model(name="importing", status="downloading")


def test_idle_streams_hold_no_thread_nor_connection_and_free_their_sockets(live_url, downloading):
    address = (urlsplit(live_url).hostname, urlsplit(live_url).port)
    paths = [f"/api/models/add-from-civitai/{downloading.hash}"] * IMPORT_STREAMS + ["/api/tasks/queue"] * QUEUE_STREAMS
    for path in set(paths):  # the server's pools and imports are started before the figures are taken
        open_stream(address, path).close()
    time.sleep(1)
    before = usage()

    streams = [open_stream(address, path) for path in paths]
    try:
        time.sleep(0.5)
        idle = usage()
        assert idle["threads"] <= before["threads"] + SLACK, (before, idle)
        assert idle["db"] <= before["db"], (before, idle)
        # a socket each on both ends, nothing else per stream
        assert idle["fds"] <= before["fds"] + 2 * len(streams) + SLACK, (before, idle)
    finally:
        for sock in streams:
            sock.close()

    after = settled({"fds": before["fds"] + SLACK, "threads": before["threads"] + SLACK, "db": before["db"]})
    assert after["fds"] <= before["fds"] + SLACK, (before, after)
    assert after["threads"] <= before["threads"] + SLACK, (before, after)
    assert after["db"] <= before["db"], (before, after)
