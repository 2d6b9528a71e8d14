"""Concurrent image inserts on PostgreSQL with and without the row-count trigger, and with the count on one row
(trigger sets version 1, `row_counts`) or spread over slots (version 2, `row_count_slots`).

    python bench/row_counts_bench.py --postgres postgres://postgres@127.0.0.1:5432 [--writers 1,4] [--seconds 8]
                                     [--rounds 3]

Migrates a throw-away database (dropped afterwards), then for each round and each number of writers runs the
three variants in turn: WRITERS processes, each inserting images one per transaction (autocommit, one INSERT,
as an upload does) for SECONDS; prints inserts/s per variant (median over the rounds) and the spread.
"""

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.triggers import frozen  # noqa: E402 (the project on the path first)

INSERT = ("INSERT INTO images (hash, width, height, size, metadata, format, created_at, tag_count) "
          "VALUES (%s, 64, 64, 100, '{}', 'png', now(), 0)")
ROW_COUNTS_V1_TABLE = ("CREATE TABLE IF NOT EXISTS row_counts (table_name varchar(40) PRIMARY KEY, "
                       "row_total bigint NOT NULL DEFAULT 0)")


def writer(url, seconds, start, results):
    count = 0
    with psycopg.connect(url, autocommit=True) as conn:
        while time.time() < start:
            time.sleep(0.001)
        end = start + seconds
        while time.time() < end:
            conn.execute(INSERT, [uuid.uuid4().hex + uuid.uuid4().hex])
            count += 1
    results.put(count)


def inserts_per_second(url, writers, seconds):
    results = multiprocessing.Queue()
    start = time.time() + 0.5
    processes = [multiprocessing.Process(target=writer, args=(url, seconds, start, results)) for _ in range(writers)]
    for process in processes:
        process.start()
    total = sum(results.get() for _ in processes)
    for process in processes:
        process.join()
    return total / seconds


def use_variant(url, variant):
    """Install the row-count triggers of `variant` on images: none, version 1 (one row) or version 2 (slots)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in frozen("row_counts:images", 2, "postgresql")["drop"]:
            conn.execute(statement)
        if variant == "none":
            return
        version = {"one row (v1)": 1, "slots (v2)": 2}[variant]
        conn.execute(ROW_COUNTS_V1_TABLE)
        entry = frozen("row_counts:images", version, "postgresql")
        for statement in entry["backfill"] + entry["create"]:
            conn.execute(statement)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", required=True, help="server URL, e.g. postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--writers", default="1,4")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    name = f"sdhost_rowcounts_bench_{os.getpid()}"
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{args.postgres}/{name}"
    try:
        env = {**os.environ, "SDHOST_DATABASE_URL": url, "SDHOST_DATA_DIR": f"/tmp/{name}"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        variants = ["none", "one row (v1)", "slots (v2)"]
        figures = {}
        for _ in range(args.rounds):
            for writers in [int(n) for n in args.writers.split(",")]:
                for variant in variants:
                    use_variant(url, variant)
                    rate = inserts_per_second(url, writers, args.seconds)
                    figures.setdefault((writers, variant), []).append(rate)
                    print(f"  {writers} writers, {variant:13}: {rate:7.0f} inserts/s", flush=True)
        print("\nwriters  row-count trigger   inserts/s (median)   min-max")
        for (writers, variant), rates in figures.items():
            print(f"{writers:7}  {variant:17}  {statistics.median(rates):12.0f}   {min(rates):8.0f}-{max(rates):.0f}")
    finally:
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
