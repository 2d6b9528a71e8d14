"""Web UI benchmark: the thumbnail endpoint through our server (uvicorn), and the gallery in a real browser.

    python bench/ui_bench.py [--images 100000] [--files 1200] [--requests 3000] [--scroll 1000] [--no-browser]

Seeds a throw-away data folder with `--images` image rows of which the newest `--files` have real files
(512×512 PNGs of noise: realistic encode and resize costs), starts `manage.py serve --no-worker`, then measures:

- thumbnail endpoint, one keep-alive client: cold (first request of each image: decode, resize, WebP
  encode, store), cached (the file from the thumbnail cache), and conditional (If-None-Match → 304);
  p50/p95/p99 in ms and requests/s, and the server's CPU time per cached request; for reference the same
  server's floor (a static file, an /api 404). Target: cached p95 ≤ 5 ms.
- gallery in headless chromium (Debian's, through playwright; skipped without it): time to first
  paint (navigation start → first thumbnail decoded) and time to scroll through `--scroll` images
  (every tile's thumbnail decoded), with the server's thumbnail cache cold (emptied) and warm, each in a
  fresh browser profile (the browser's own cache empty).
"""

import argparse
import io
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def seed(data_dir: Path, rows: int, files: int) -> list[str]:
    """Rows and files; returns the hashes with files, newest first."""
    os.environ.update(SDHOST_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="sdhost.settings", SDHOST_LOG_LEVEL="WARNING")
    import django

    django.setup()
    from datetime import datetime, timedelta, timezone

    from django.core.management import call_command
    from PIL import Image as PILImage

    from images_app.models import Image
    from images_app.storage import store_image_bytes

    call_command("migrate", interactive=False, verbosity=0)
    rng = random.Random(15)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    filler = [Image(hash=f"{n:064x}", width=512, height=768, size=400_000, format="png", seed=n,
                    metadata={"rating": n % 6}, created_at=start + timedelta(seconds=n)) for n in range(max(rows - files, 0))]
    Image.objects.bulk_create(filler, batch_size=2000)
    real = []
    for n in range(files):
        buffer = io.BytesIO()
        PILImage.frombytes("RGB", (512, 512), rng.randbytes(512 * 512 * 3)).save(buffer, "PNG", compress_level=1)
        image, _ = store_image_bytes(buffer.getvalue())
        Image.objects.filter(pk=image.hash).update(created_at=start + timedelta(days=400, seconds=n))
        real.append(image.hash)
    return real[::-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data_dir: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, SDHOST_DATA_DIR=str(data_dir), SDHOST_LOG_LEVEL="WARNING", SDHOST_ACCESS_LOG="0")
    process = subprocess.Popen([sys.executable, "manage.py", "serve", "--no-worker", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def percentiles(samples_ms):
    ordered = sorted(samples_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return statistics.median(ordered), pick(0.95), pick(0.99)


def timed(session, url, headers=None, expect=200):
    began = time.perf_counter()
    response = session.get(url, headers=headers, timeout=30)
    elapsed = (time.perf_counter() - began) * 1000
    assert response.status_code == expect, (url, response.status_code, response.text[:200])
    return elapsed, response


def bench_endpoint(base, hashes, count, server_pid):
    import psutil

    server = psutil.Process(server_pid)
    session = requests.Session()
    rows = []
    cold_set = hashes[: min(len(hashes), 300)]
    cold = [timed(session, f"{base}/api/images/{h}/thumbnail?size=256")[0] for h in cold_set]
    rows.append(("cold (made on first request)", cold))
    etags = {h: session.get(f"{base}/api/images/{h}/thumbnail?size=256").headers["ETag"] for h in cold_set}
    cpu_before = sum(server.cpu_times()[:2])
    cached = [timed(session, f"{base}/api/images/{cold_set[i % len(cold_set)]}/thumbnail?size=256")[0] for i in range(count)]
    cpu_ms = (sum(server.cpu_times()[:2]) - cpu_before) * 1000 / count
    rows.append(("cached", cached))
    conditional = [timed(session, f"{base}/api/images/{h}/thumbnail?size=256", {"If-None-Match": etags[h]}, 304)[0]
                   for h in (cold_set[i % len(cold_set)] for i in range(count))]
    rows.append(("If-None-Match → 304", conditional))
    # The floor of the same server, for comparison: a static file (no middleware) and an /api 404 (the
    # whole middleware chain and URL resolution, no view).
    rows.append(("ref: static file /static/ui/state.js", [timed(session, f"{base}/static/ui/state.js")[0] for _ in range(count)]))
    rows.append(("ref: /api 404 (middleware only)", [timed(session, f"{base}/api/no-such-route", expect=404)[0] for _ in range(count)]))
    print("\nThumbnail endpoint (size=256, one keep-alive client)")
    print(f"{'':38} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for label, samples in rows:
        p50, p95, p99 = percentiles(samples)
        print(f"{label:38} {len(samples):>6} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f} {1000 * len(samples) / sum(samples):>8.0f}")
    print(f"server CPU per cached thumbnail: {cpu_ms:.2f} ms (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return percentiles(cached)[1]


FIRST_PAINT = """() => new Promise((resolve) => {
  const check = () => {
    const img = document.querySelector('.thumb img');
    if (img && img.complete && img.naturalWidth > 0) resolve(performance.now());
    else requestAnimationFrame(check);
  };
  check();
})"""

SCROLL = """async (target) => {
  const began = performance.now();
  const images = () => [...document.querySelectorAll('.thumb img')];
  const loaded = () => images().filter((i) => i.complete && i.naturalWidth > 0).length;
  while (loaded() < target) {
    window.scrollBy(0, window.innerHeight);
    await new Promise((r) => setTimeout(r, 16));
    if (performance.now() - began > 300000) {
      const broken = images().filter((i) => i.complete && i.naturalWidth === 0 && i.src).length;
      return [null, images().length, loaded(), broken];
    }
  }
  return [performance.now() - began, images().length, loaded(), 0];
}"""


def bench_browser(base, data_dir, scroll):
    if not Path(CHROMIUM).is_file():
        print(f"\nGallery in a browser: skipped (no {CHROMIUM})")
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\nGallery in a browser: skipped (playwright not installed)")
        return
    print(f"\nGallery in headless chromium (1280×900, fresh profile each run; scroll = {scroll} thumbnails decoded)")
    print(f"{'server thumbnail cache':24} {'first paint ms':>15} {'scroll s':>9} {'images/s':>9}")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label in ("cold", "warm", "warm"):
            if label == "cold":
                shutil.rmtree(data_dir / "cache" / "thumbnails", ignore_errors=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(600_000)
            page.goto(f"{base}/#/gallery")
            first_paint = page.evaluate(FIRST_PAINT)
            seconds, tiles, loaded, broken = page.evaluate(SCROLL, scroll)
            if seconds is None:
                print(f"{label:24} {first_paint:>15.0f}  gave up after 300 s: {loaded} of {tiles} tiles loaded, {broken} broken")
            else:
                print(f"{label:24} {first_paint:>15.0f} {seconds / 1000:>9.1f} {scroll / (seconds / 1000):>9.0f}")
            context.close()
        browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=1200)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--scroll", type=int, default=1000)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sdhost-ui-bench-"))
    process = None
    try:
        began = time.perf_counter()
        hashes = seed(tmp / "data", args.images, args.files)
        print(f"seeded {args.images} image rows ({args.files} with files) in {time.perf_counter() - began:.0f} s")
        port = free_port()
        process = serve(tmp / "data", port)
        base = f"http://127.0.0.1:{port}"
        p95 = bench_endpoint(base, hashes, args.requests, process.pid)
        print(f"cached p95 {p95:.2f} ms: target ≤ 5 ms {'met' if p95 <= 5 else 'MISSED'}")
        if not args.no_browser:
            bench_browser(base, tmp / "data", min(args.scroll, args.files))
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
