"""Scans of the model folders the server watches (SDHOST_MODEL_ROOTS, sdhost/model_roots.py): each root's weights
files registered in place (models_app.scan with the root's layout hint), one scan at a time per process, in a
thread, with progress on the SSE channel CHANNEL (`POST /api/models/scan`, `serve` with SDHOST_SCAN_ON_START).

Only the configured roots are ever scanned: nothing here takes a path from a request.

Events: `{"status": "scanning", "scan": id, "root": path, "roots_done", "roots", "files_done", "files"}` while it
runs, then one final event, `completed` (counts, and the first MAX_LISTED skipped files with why) or `failed`;
`idle` before the first scan.
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import connection

from core.sse import publish
from models_app.scan import scan

log = logging.getLogger(__name__)

CHANNEL = "model-scan"
EVENT_INTERVAL = 0.25  # seconds between progress events
MAX_LISTED = 100  # skipped files listed in the final event (all are counted)
FINAL = ("idle", "completed", "failed")


def roots() -> list[dict]:
    return list(settings.SDHOST["MODEL_ROOTS"])


def is_final_event(data) -> bool:
    return data.get("status") in FINAL


def summary(scan_id, reports) -> dict:
    skipped = [entry for report in reports for entry in report.skipped]
    changes = [new for report in reports for _, _, new in report.status_changes]
    return {
        "status": "completed", "scan": scan_id, "roots": len(reports),
        "files": sum(r.files for r in reports),
        "imported": sum(len(r.imported) for r in reports),
        "relinked": sum(len(r.relinked) for r in reports),
        "known": sum(r.known for r in reports),
        "hashed": sum(r.hashed for r in reports),
        "missing": changes.count("missing"),
        "changed": changes.count("changed"),
        "skipped": len(skipped),
        "skipped_files": [{"path": path, "reason": reason} for path, reason in skipped[:MAX_LISTED]],
    }


class RootScanner:
    def __init__(self):
        self._lock = threading.Lock()
        self._running = False
        self._state = {"status": "idle"}
        self._next_event = 0.0

    def state(self) -> dict:
        with self._lock:
            return dict(self._state)

    def running(self) -> bool:
        with self._lock:
            return self._running

    def start(self, background=True):
        """Begin a scan of every root; its first event, or None when a scan is running already. With
        background=False the scan runs in the calling thread and its final event is returned."""
        with self._lock:
            if self._running:
                return None
            self._running = True
            scan_id = uuid.uuid4().hex[:12]
            self._state = {"status": "scanning", "scan": scan_id, "root": None, "roots_done": 0,
                           "roots": len(roots()), "files_done": 0, "files": 0}
            first = dict(self._state)
        publish(CHANNEL, first)
        if not background:
            return self._run(scan_id, close_connection=False)
        threading.Thread(target=self._run, args=(scan_id,), name="model-scan", daemon=True).start()
        return first

    def _set(self, state, force=False):
        now = time.monotonic()
        with self._lock:
            self._state = state
            due = force or now >= self._next_event
            if due:
                self._next_event = now + EVENT_INTERVAL
        if due:
            publish(CHANNEL, state)

    def _run(self, scan_id, close_connection=True):
        reports = []
        final = None
        try:
            configured = roots()
            for index, root in enumerate(configured):
                progress = {"status": "scanning", "scan": scan_id, "root": root["path"], "roots_done": index,
                            "roots": len(configured), "files_done": 0, "files": 0}
                self._set(progress, force=True)
                reports.append(scan([root["path"]], in_place=True, layout=root["layout"],
                                    progress=lambda files, base=progress: self._progress(base, files)))
            final = summary(scan_id, reports)
        except Exception:  # noqa: BLE001 - a background scan must never die silently
            log.exception("Scan of the model roots crashed")
            final = {"status": "failed", "scan": scan_id, "error": "The scan stopped on an unexpected error; see the "
                                                                   "server log"}
        finally:
            if final is None:
                final = {"status": "failed", "scan": scan_id, "error": "The scan was interrupted"}
            with self._lock:
                self._state = final
                self._running = False
            publish(CHANNEL, final)
            if close_connection:
                connection.close()
        log.info("Scan of the model roots: %s", {k: v for k, v in final.items() if k != "skipped_files"})
        return final

    def _progress(self, base, files):
        for done, path in enumerate(files):
            self._set({**base, "files_done": done, "files": len(files)})
            yield path
        self._set({**base, "files_done": len(files), "files": len(files)}, force=True)


scanner = RootScanner()
