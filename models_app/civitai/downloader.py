"""Resumable, verified streaming download of one file.

The bytes go to a `.part` file and through SHA256 in the same pass. After a dropped connection, a
server error or a restart of SD-Host, the download continues with `Range: bytes=<have>-` and
`If-Range: <ETag or Last-Modified>`; an existing partial file is re-hashed once before continuing.
A server that answers 200 instead of 206 (Range ignored, or the file changed) restarts it from zero.
The result is returned only when the SHA256 matches; the caller moves the file into place.
"""

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

from core.jsondata import digits_value

from .client import TOKEN_NEEDED
from .hashing import HashingWriter

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
CONTENT_RANGE_UNSATISFIED_RE = re.compile(r"bytes\s+\*/(\d+)")
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DownloadFailed(Exception):
    """Unrecoverable: the message is what the model's `error_message` says.

    `keep_partial` is true when the partial file is still good (the network gave up, not the data),
    so a repeated import can resume from it (D29).
    """

    def __init__(self, message, keep_partial=False):
        super().__init__(message)
        self.keep_partial = keep_partial


class DownloadBusy(Exception):
    """Another process is writing this partial file."""


class DownloadCancelled(Exception):
    """cancel() was called."""


class Retry(Exception):
    """A transient problem: try again after a backoff."""


@dataclass
class DownloadResult:
    path: Path
    size: int
    sha256: str


class Download:
    """One resumable download of `url` into `part_path`, verified against `expected_sha256`.

    `bytes_done`, `total` (None until a server states it) and `validator` are readable at any
    time, e.g. by `on_progress(download)`, which is called after every chunk and must be cheap.
    `fetched` counts the bytes received from the network (re-hashed partial data excluded).
    """

    def __init__(self, session, url, part_path, expected_sha256, *, validator=None, on_progress=None,
                 retries=6, backoff=0.5, max_backoff=30.0, chunk_size=CHUNK):
        self.session = session
        self.url = url
        self.part_path = Path(part_path)
        self.expected_sha256 = expected_sha256.lower()
        self.validator = validator
        self.on_progress = on_progress or (lambda download: None)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.chunk_size = chunk_size
        self.bytes_done = 0
        self.total = None
        self.fetched = 0
        self.attempts = 0
        self._cancelled = threading.Event()
        self._response = None

    def cancel(self):
        """Stop as soon as possible (also interrupts a blocked read); run() raises DownloadCancelled."""
        self._cancelled.set()
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # noqa: BLE001 - closing from another thread may race the reader
                pass

    @property
    def cancelled(self):
        return self._cancelled.is_set()

    def run(self) -> DownloadResult:
        self.part_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            writer = HashingWriter(self.part_path)
        except BlockingIOError:
            raise DownloadBusy(f"{self.part_path} is being written by another process") from None
        with writer:
            self.bytes_done = writer.size
            failures = 0
            while True:
                self._check_cancelled()
                before = self.bytes_done
                try:
                    if self._attempt(writer):
                        break
                except Retry as problem:
                    failures = 0 if self.bytes_done > before else failures + 1
                    if failures > self.retries:
                        raise DownloadFailed(f"Download failed after {self.attempts} attempts: {problem}",
                                             keep_partial=True) from None
                    delay = min(self.backoff * 2 ** max(failures - 1, 0), self.max_backoff)
                    log.info("Download of %s interrupted at %d bytes (%s); retrying in %.1fs",
                             self.url, self.bytes_done, problem, delay)
                    if self._cancelled.wait(delay):
                        raise DownloadCancelled() from None
            writer.sync()
            digest = writer.hexdigest()
        if digest != self.expected_sha256:
            raise DownloadFailed(f"SHA256 mismatch: expected {self.expected_sha256}, got {digest}")
        return DownloadResult(self.part_path, self.bytes_done, digest)

    def _check_cancelled(self):
        if self._cancelled.is_set():
            raise DownloadCancelled()

    def _attempt(self, writer) -> bool:
        """One HTTP request; True when the file is complete, Retry for a transient problem."""
        self.attempts += 1
        offset = writer.size
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self.validator:
                headers["If-Range"] = self.validator
        try:
            response = self.session.get(self.url, headers=headers, stream=True,
                                        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as exc:
            self._check_cancelled()
            raise Retry(f"{type(exc).__name__}: {exc}") from None
        self._response = response
        try:
            return self._consume(response, writer, offset)
        except (DownloadFailed, DownloadCancelled, Retry):
            raise
        except Exception as exc:  # noqa: BLE001 - a dropped connection surfaces in several shapes
            self._check_cancelled()  # cancel() closed the response under the reader
            if isinstance(exc, (requests.RequestException, urllib3.exceptions.HTTPError, OSError)):
                raise Retry(f"{type(exc).__name__}: {exc}") from None
            raise
        finally:
            self._response = None
            response.close()

    def _consume(self, response, writer, offset) -> bool:
        status = response.status_code
        if status == 416 and offset:
            stated = CONTENT_RANGE_UNSATISFIED_RE.match(response.headers.get("Content-Range", ""))
            if stated and int(stated.group(1)) == offset:
                self.total = offset
                return True  # we already hold the whole file
            log.info("Server refused range %d- of %s; restarting from zero", offset, self.url)
            self._restart(writer)
            raise Retry("range not satisfiable; restarted from zero")
        if status in (401, 403):
            raise DownloadFailed(f"{TOKEN_NEEDED} (HTTP {status} for the file)")
        if status in RETRYABLE_STATUS:
            raise Retry(f"HTTP {status}")
        if status not in (200, 206):
            raise DownloadFailed(f"The file could not be downloaded: HTTP {status}")
        if status == 206:
            stated = CONTENT_RANGE_RE.match(response.headers.get("Content-Range", ""))
            if not stated or int(stated.group(1)) != offset:
                self._restart(writer)
                raise Retry("server answered a different range; restarted from zero")
            if stated.group(3) != "*":
                self.total = int(stated.group(3))
        else:
            if offset:
                log.info("Server sent the whole file instead of range %d- (%s); restarting from zero", offset, self.url)
                self._restart(writer)
            length = response.headers.get("Content-Length")
            self.total = digits_value(length) if length else None
        self.validator = response.headers.get("ETag") or response.headers.get("Last-Modified") or self.validator
        self.on_progress(self)
        # read1: whatever has arrived, up to a chunk; unlike read(n) it never discards the bytes
        # received before a dropped connection, so a resume re-fetches exactly the rest.
        while chunk := response.raw.read1(self.chunk_size):
            self._check_cancelled()
            try:
                writer.write(chunk)
            except OSError as exc:
                raise DownloadFailed(f"Cannot write {self.part_path}: {exc.strerror or exc}") from None
            self.bytes_done += len(chunk)
            self.fetched += len(chunk)
            self.on_progress(self)
        if self.total is not None and self.bytes_done < self.total:
            raise Retry(f"connection closed at {self.bytes_done} of {self.total} bytes")
        if self.total is None:
            self.total = self.bytes_done
        return True

    def _restart(self, writer):
        writer.truncate()
        self.bytes_done = 0
        self.total = None

