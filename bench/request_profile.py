"""Where the server time of a request goes, in-process (issue #27): cProfile and repeated timings.

    python bench/request_profile.py [--images 2000] [--models 200] [--runs 300] [--top 25] [--reuse DIR]

Seeds a throw-away data folder as bench/query_bench.py does (smaller by default: the per-request cost
of a 50-item page does not depend on the library's size once the SQL is indexed), then sends
`GET /api/images?include=tags&page[size]=50` and `GET /api/version` through Django's full handler
(django.test.Client: every middleware, URL resolving, DRF, the renderer; no sockets, no uvicorn) and

- times `--runs` requests of each (median and p95 of in-process wall time, and the process's CPU time per
  request, which other processes on a shared machine disturb less; load average printed);
- profiles the same requests with cProfile and prints the share of the time spent in each layer
  (middleware, view and query building, SQL, document building, JSON encoding) and the top functions.

With `--http` both requests are also timed over HTTP through uvicorn (`sdhost.asgi`), as `serve` runs it.

The shares and call counts are steadier than wall times on a loaded machine; compare runs by them.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

URLS = ["/api/images?include=tags&page[size]=50", "/api/version"]

# cumulative time of these functions = the layer's share (nested layers are subtracted from their parent)
LAYERS = [
    ("JSON encoding (renderer)", ("renderers.py", "render")),
    ("document building (core/jsonapi/documents.py)", ("documents.py", "collection_data")),
    ("SQL execution (sqlite3 execute)", ("~", "SQLiteCursorWrapper.execute")),
    ("SQL rows (sqlite3 fetchmany)", ("~", "<method 'fetchmany' of 'sqlite3.Cursor' objects>")),
    ("model instances (Model.__init__)", ("base.py", "__init__")),
    ("pagination (count + page slice)", ("generics.py", "paginate_queryset")),
    ("middleware: CommonMiddleware.process_response", ("common.py", "process_response")),
]


def timed(client, url, runs):
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, HTTP_ACCEPT="application/vnd.api+json")
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def profile(client, url, runs, top):
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        client.get(url, HTTP_ACCEPT="application/vnd.api+json")
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(tt for (_, _, tt, _, _) in stats.stats.values())
    print(f"\n== {url}: {runs} requests profiled, {total / runs * 1000:.2f} ms/request under cProfile, "
          f"{sum(nc for (_, nc, _, _, _) in stats.stats.values()) // runs} calls/request")
    for label, (filename, function) in LAYERS:
        cum = sum(ct for (file, _, name), (_, _, _, ct, _) in stats.stats.items()
                  if file.endswith(filename) and (name == function or function in name and "." in function))
        print(f"   {label:<55} {cum / total * 100:5.1f}%  {cum / runs * 1000:6.2f} ms")
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def http_timings(runs):
    """p50/p95 of both requests over one keep-alive connection (http.client: less client time than requests)."""
    import http.client

    from bench.query_bench import free_port, start_server

    port = free_port()
    server = start_server(dict(os.environ), port)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        for url in URLS:
            samples = []
            for n in range(runs + 20):
                started = time.perf_counter()
                connection.request("GET", url, headers={"Accept": "application/vnd.api+json"})
                response = connection.getresponse()
                body = response.read()
                if n >= 20:
                    samples.append((time.perf_counter() - started) * 1000)
                assert response.status == 200, body[:300]
            samples.sort()
            print(f"HTTP {url:<40} p50 {statistics.median(samples):6.2f} ms  "
                  f"p95 {samples[int(len(samples) * 0.95) - 1]:6.2f} ms  (uvicorn, keep-alive, http.client)")
    finally:
        server.terminate()
        server.wait(10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--http", action="store_true", help="also time both requests over HTTP through uvicorn")
    parser.add_argument("--reuse", metavar="DIR", help="a data folder, seeded on first use and kept")
    args = parser.parse_args()

    from bench.query_bench import setup_django

    data_dir, reused = setup_django(args.reuse, "sdhost-request-profile-")
    from django.core.management import call_command
    from django.test import Client

    from bench.query_bench import seed

    call_command("migrate", verbosity=0)
    if not reused:
        seed(args.models, args.images)
    client = Client(HTTP_HOST="127.0.0.1")
    for url in URLS:
        timed(client, url, 20)  # warm up
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.images} images, "
          f"{args.runs} requests each, in-process (django.test.Client, full middleware stack)")
    for url in URLS:
        cpu = time.process_time()
        p50, p95 = timed(client, url, args.runs)
        cpu = (time.process_time() - cpu) / args.runs * 1000
        print(f"{url:<45} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  CPU {cpu:6.2f} ms/request  "
              f"({len(client.get(url).content)} bytes)")
    if args.http:
        http_timings(args.runs)
    if not args.no_profile:
        for url in URLS:
            profile(client, url, max(args.runs // 3, 20), args.top)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
