"""The database settings of `SDHOST_DATABASE_URL` (D40): PostgreSQL for several processes.

Connections: Django opens one per thread; under the ASGI server every request runs on a thread of
its own, so without a bound a burst of requests opens a connection each. A pooler (pgbouncer in transaction
mode) in front of PostgreSQL is the documented way to serve many processes (docs/deployment.md).

Connections are bounded by default: `SDHOST_DATABASE_POOL` (default `DEFAULT_POOL`) keeps up to N open connections
per process in Django's psycopg pool (psycopg-pool). A request borrows one instead of connecting (~20-40 ms less
per request on the 2-vCPU VM, docs/performance.md) and gives it back at its end; when all N are out, a request waits
up to `SDHOST_DATABASE_POOL_TIMEOUT` seconds for one, then is answered 503 `database_busy` with `Retry-After`
(core/writes.py), so a burst of requests never opens more connections than the server allows ("too many
clients"). `SDHOST_DATABASE_POOL=0` turns the pool off (one connection per busy thread, unbounded: for a pooler such
as pgbouncer in front); a `SDHOST_DATABASE_CONN_MAX_AGE` above 0 without a pool setting does the same (Django allows
only one of them).
"""

import os

DEFAULT_POOL = 16  # per process; a server process and a worker process stay far below max_connections (100)
DEFAULT_POOL_TIMEOUT = 10.0


def database_from_url(url: str, conn_max_age: int, pool: int = 0, pool_timeout: float = DEFAULT_POOL_TIMEOUT) -> dict:
    """Django's DATABASES entry for `url` (postgres://user:password@host:port/name); `pool`: the most
    connections a process keeps open in a pool (0: no pool), `pool_timeout`: how long a request waits for one."""
    import dj_database_url

    config = dj_database_url.parse(url, conn_max_age=0 if pool else conn_max_age, conn_health_checks=not pool)
    if config["ENGINE"] == "django.db.backends.postgresql" and pool:
        config.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": pool, "timeout": pool_timeout}
    if config["ENGINE"] == "django.db.backends.postgresql":
        # One throwaway test database per process, so parallel runs never clash.
        config["TEST"] = {"NAME": f"test_{config['NAME']}_{os.getpid()}"}
    return config
