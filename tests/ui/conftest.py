"""Browser tests of the web UI: Debian's chromium driven by playwright against a live server (uvicorn).

Skipped, with the reason printed, only where the browser (or playwright) is missing. On a failure every
page of the UI is photographed into test-output/ui/ (SDHOST_TEST_OUTPUT overrides the folder).
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

PAGES = ("gallery", "compose", "queue", "models")
OUTPUT = Path(os.environ.get("SDHOST_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output")) / "ui"
TIMEOUT_MS = 30_000


def skip(reason):
    print(f"\ntests/ui skipped: {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """One chromium per module: playwright's loop must not outlive the browser tests (later tests call
    asyncio.run, which refuses to start inside a running loop)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip("the playwright package is not installed (pip install playwright)")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    # playwright's sync API keeps an asyncio loop running in this thread, so Django's guard would refuse
    # the (synchronous) ORM calls of the tests and of test-database set-up; the guard is lifted while it runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as driver:
            chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.ui_failed = report.failed
    return report


class UI:
    """A browser tab on the live server, with the page errors it collected."""

    def __init__(self, page, base_url):
        self.page, self.base_url, self.errors = page, base_url, []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Console errors too (a Content-Security-Policy violation is one), except the browser's note on
        # each 4xx answer, which the tests provoke on purpose.
        page.on("console", lambda message: message.type == "error" and not message.text.startswith(
            "Failed to load resource") and self.errors.append(message.text))
        page.set_default_timeout(TIMEOUT_MS)

    def open(self, route=""):
        self.page.goto(f"{self.base_url}/#/{route}")
        self.page.wait_for_selector("main > *")

    def wait_for_queue_stream(self):
        """Until the page's queue stream delivered its first snapshot (later changes then reach it)."""
        self.page.wait_for_selector("html[data-queue-stream=open]", state="attached")

    def go(self, route):
        """Navigate inside the running application (no reload)."""
        self.page.evaluate("route => { location.hash = '#/' + route }", route)
        self.page.wait_for_selector("main > *")

    def screenshots(self, name):
        OUTPUT.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(OUTPUT / f"{name}-at-failure.png"), full_page=True)
        for route in PAGES:
            try:
                self.go(route)
                self.page.wait_for_timeout(500)
                self.page.screenshot(path=str(OUTPUT / f"{name}-{route}.png"), full_page=True)
            except Exception as exc:  # a screenshot must not hide the test's own failure
                print(f"screenshot of {route} failed: {exc}", file=sys.stderr)
        print(f"\nscreenshots in {OUTPUT}", file=sys.stderr)


def open_tab(browser, base_url, request, **context_options):
    context = browser.new_context(**context_options)
    ui = UI(context.new_page(), base_url)
    request.addfinalizer(lambda: finish(request, ui, context))
    return ui


def finish(request, ui, context):
    try:
        if getattr(request.node, "ui_failed", False):
            ui.screenshots(request.node.name)
    finally:
        context.close()


@pytest.fixture
def ui(browser, live_url, request):
    """A desktop-sized tab; the test fails on any uncaught error or console error of the page."""
    tab = open_tab(browser, live_url, request, viewport={"width": 1280, "height": 900})
    yield tab
    assert not tab.errors, tab.errors


@pytest.fixture
def phone(browser, live_url, request):
    tab = open_tab(browser, live_url, request, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    yield tab
    assert not tab.errors, tab.errors
