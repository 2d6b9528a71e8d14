"""The database settings of `SDHOST_DATABASE_URL` (D40): PostgreSQL for several processes.

Connections: Django opens one per thread; under the ASGI server every request runs on a thread of
the sync executor, so `CONN_MAX_AGE=0` (the default, `SDHOST_DATABASE_CONN_MAX_AGE`) closes each
at the end of its request and the server holds at most one per busy thread. Health checks make
a longer-lived connection safe after a database restart. A pooler (pgbouncer in transaction
mode) in front of PostgreSQL is the documented way to serve many processes (docs/deployment.md).

`SDHOST_DATABASE_POOL=N` instead keeps up to N open connections per process in Django's psycopg pool
(psycopg-pool): a request then borrows one instead of connecting, ~20-40 ms less per request on the
2-vCPU VM (docs/performance.md). It replaces `CONN_MAX_AGE` (Django allows only one of them).
"""

import os


def database_from_url(url: str, conn_max_age: int, pool: int = 0) -> dict:
    """Django's DATABASES entry for `url` (postgres://user:password@host:port/name); `pool`: the most
    connections a process keeps open in a pool (0: no pool)."""
    import dj_database_url

    config = dj_database_url.parse(url, conn_max_age=0 if pool else conn_max_age, conn_health_checks=not pool)
    if config["ENGINE"] == "django.db.backends.postgresql" and pool:
        config.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": pool, "timeout": 30}
    if config["ENGINE"] == "django.db.backends.postgresql":
        # One throwaway test database per process, so parallel runs never clash.
        config["TEST"] = {"NAME": f"test_{config['NAME']}_{os.getpid()}"}
    return config
