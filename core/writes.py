"""Write transactions under concurrency: one lock order for tag writers, a retry of the whole transaction, and a
503 (never a 500) when the database is too busy to answer (issue 23; docs/decisions.md D43).

Lock order (PostgreSQL). The link-count triggers (core/tag_counts.py) take the tag writers' advisory lock at a
transaction's first link write, after the transaction may already hold row locks (an entity row `FOR UPDATE`, a
referenced model's `FOR KEY SHARE` from a foreign key check, a new tag's unique index entry). Two writers then
wait on each other: one holds a row and waits for the lock, the other holds the lock and waits for the row.
Every write path that can write tag links, directly or by a cascade (updates with tag operations, tagged
submissions, deletes of images and models), therefore runs as `write_transaction(..., tags=True)`, which takes the
lock first, before any row lock: a transaction holding it has waited for nothing else, and one waiting for it holds
nothing, so no wait cycle can pass through it. The trigger's own request for the lock is then a no-op.
SQLite takes one writer at a time (`BEGIN IMMEDIATE`): nothing to order.

Retry. Other cycles (rows of different tables locked in different orders by paths that write no links) are not
excluded by construction; PostgreSQL aborts one member with a deadlock (40P01), or a serialization failure (40001)
where a stricter isolation level is used. `write_transaction` runs the whole transaction again, up to
`WRITE_ATTEMPTS` times with a short random pause; a transaction that still fails, and a database that refuses
connections (too many clients, the connection pool's wait timed out, SQLite's lock wait ran out) is answered
503 `database_busy` with `Retry-After` (`busy_error`, used by core.errors and the A1111 layer).
"""

import random
import time
from typing import Callable

from django.db import DatabaseError, connection, transaction

from core.tag_counts import TAG_WRITERS_LOCK

WRITE_ATTEMPTS = 4
RETRY_PAUSE_SECONDS = 0.05  # times 1..WRITE_ATTEMPTS, with jitter
RETRY_AFTER_SECONDS = 2  # what a 503 tells the client

RETRIED_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
# too_many_connections, cannot_connect_now (starting up / shutting down), admin_shutdown
BUSY_SQLSTATES = {"53300", "57P03", "57P01"}
BUSY_MESSAGES = ("too many clients", "too many connections", "remaining connection slots", "database is locked",
                 "couldn't get a connection")  # the last: psycopg-pool's PoolTimeout


class DatabaseBusy(Exception):
    """A write gave up after `WRITE_ATTEMPTS` deadlocks or serialization failures."""


def sqlstate(error) -> str | None:
    """The SQLSTATE of a database error (Django wraps the driver's exception as its cause)."""
    return getattr(error, "sqlstate", None) or getattr(error.__cause__, "sqlstate", None)


def is_retryable(error) -> bool:
    return isinstance(error, DatabaseError) and sqlstate(error) in RETRIED_SQLSTATES


def is_database_busy(error) -> bool:
    """Whether `error` means "the database cannot take this now; ask again soon" rather than a fault."""
    if isinstance(error, DatabaseBusy):
        return True
    if not isinstance(error, DatabaseError):
        return False
    if sqlstate(error) in BUSY_SQLSTATES | RETRIED_SQLSTATES:
        return True
    text = f"{error} {error.__cause__ or ''}".lower()
    return any(message in text for message in BUSY_MESSAGES)


def lock_tag_writers() -> None:
    """Take the tag writers' lock for the rest of the transaction (PostgreSQL; SQLite writers take turns anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TAG_WRITERS_LOCK])


def write_transaction(write: Callable, *, tags=False):
    """`write()` in one transaction, run again when PostgreSQL aborts it as a deadlock victim or for a serialization
    failure; `tags=True` for a transaction that may write tag links (directly or by a cascade): the tag writers'
    lock is taken before anything else. Inside an outer transaction (a savepoint) nothing can be retried: the
    error goes to the outer writer's own retry."""
    if connection.in_atomic_block:
        with transaction.atomic():
            if tags:
                lock_tag_writers()
            return write()
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                if tags:
                    lock_tag_writers()
                return write()
        except DatabaseError as error:
            if not is_retryable(error):
                raise
            if attempt == WRITE_ATTEMPTS:
                raise DatabaseBusy(f"gave up after {attempt} attempts: {error}") from error
        time.sleep(RETRY_PAUSE_SECONDS * attempt * (0.5 + random.random()))
