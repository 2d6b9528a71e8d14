"""Download benchmark: SD-Host's Civitai import versus `curl -o` on loopback.

    python bench/download_bench.py [--size-mib 1024] [--runs 3]

Serves one file of random bytes from tests/support/fake_civitai.py on 127.0.0.1 and measures, in the same run:
  * curl -o of the signed file URL (no hashing, no fsync), and curl -o followed by an fsync;
  * SD-Host's import of the same file: catalogue reads, streaming download, SHA256 in the same pass,
    fsync, verification and the atomic move into the model store (manager.run_foreground);
  * an import cut at about 50% (the server closes the socket): bytes fetched again after the cut.
Everything lives in a temporary folder (data directory, SQLite database, the served file).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_file(path: Path, size: int):
    block = 16 * 1024 * 1024
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(block, left)
            f.write(os.urandom(n))
            left -= n


def setup_django(data_dir: Path):
    os.environ["SDHOST_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sdhost.settings")
    os.environ.setdefault("SDHOST_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def time_curl(url: str, out: Path, durable=False) -> float:
    """curl -o; with durable=True also the fsync that makes the file survive a power loss."""
    start = time.perf_counter()
    subprocess.run(["curl", "-sS", "-f", "-o", str(out), url], check=True)
    if durable:
        with open(out, "rb") as f:
            os.fsync(f.fileno())
    elapsed = time.perf_counter() - start
    out.unlink()
    return elapsed


def time_import(fake, version_id) -> tuple[float, int]:
    from models_app.civitai import manager
    from models_app.models import SDModel
    from models_app.storage import model_file_path

    served = fake.bytes_served
    start = time.perf_counter()
    model, started = manager.start_import(None, version_id, background=False)
    model = manager.manager.run_foreground(model.hash)
    elapsed = time.perf_counter() - start
    if model.status != "ready":
        raise SystemExit(f"import failed: {model.error_message}")
    model_file_path(model).unlink()
    SDModel.objects.filter(pk=model.hash).delete()
    return elapsed, fake.bytes_served - served


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is required")
    size = args.size_mib * 1024 * 1024

    with tempfile.TemporaryDirectory(prefix="sdhost-bench-") as tmp:
        tmp = Path(tmp)
        source = tmp / "served.safetensors"
        print(f"generating {args.size_mib} MiB of random bytes ...", flush=True)
        make_file(source, size)
        setup_django(tmp / "data")

        from tests.support.fake_civitai import FakeCivitai

        fake = FakeCivitai()
        fake.add_model(1, "Bench", type="Checkpoint")
        fake.add_version(1, 2, path=str(source), file_name="bench.safetensors")
        assert fake.versions[2].file.sha256  # the fake catalogue hashes its file once, before timing
        fake.start()
        from django.conf import settings

        settings.SDHOST["CIVITAI_BASE_URL"] = fake.base_url
        file_url = f"{fake.base_url}/files/2"

        curl_times, synced_times, import_times = [], [], []
        for _ in range(args.runs):  # interleaved, so all see the same machine state
            curl_times.append(time_curl(file_url, tmp / "curl.bin"))
            synced_times.append(time_curl(file_url, tmp / "curl.bin", durable=True))
            elapsed, fetched = time_import(fake, 2)
            assert fetched == size, (fetched, size)
            import_times.append(elapsed)

        fake.drop_after = [size // 2]
        cut_elapsed, cut_fetched = time_import(fake, 2)
        fake.stop()

    mib = size / 1024 / 1024

    def rate(seconds):
        return mib / seconds

    def speeds(times):
        return f"{rate(min(times)):8.0f} / {rate(statistics.median(times)):.0f} MiB/s"

    def share(reference):
        return f"{100 * min(reference) / min(import_times):.0f}% / {100 * statistics.median(reference) / statistics.median(import_times):.0f}%"

    rows = [
        ("curl -o (best / median)", speeds(curl_times), ""),
        ("curl -o + fsync", speeds(synced_times), ""),
        ("SD-Host import", speeds(import_times),
         f"{share(curl_times)} of curl -o, {share(synced_times)} of curl -o + fsync"),
        ("import cut at 50%: bytes served", f"{cut_fetched:>14,d}", f"file {size:,d}; re-fetched {cut_fetched - size:,d}"),
        ("import cut at 50%: time", f"{cut_elapsed:8.2f} s", "includes the 0.5 s retry backoff"),
    ]
    print(f"\n{args.size_mib} MiB over loopback, {args.runs} runs each, {os.cpu_count()} CPUs")
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<26} {note}")


if __name__ == "__main__":
    main()
