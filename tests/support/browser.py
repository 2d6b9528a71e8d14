"""Headless chromium for the web UI's browser tests and bench/ui_bench.py: Debian's browser, driven by playwright."""

import os

CHROMIUM = os.environ.get("SDHOST_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
