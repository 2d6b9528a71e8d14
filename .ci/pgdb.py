"""create|drop SERVER_URL NAME: a throwaway PostgreSQL database for the CI run (and the test
databases Django made from it, test_NAME_<pid>, should a run have been killed)."""

import sys

import psycopg
from psycopg import sql


def main(action, server, name):
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if action == "create":
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return
        leftovers = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s", (name, f"test\\_{name}\\_%")
        ).fetchall()
        for (database,) in leftovers:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
