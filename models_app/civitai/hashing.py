"""A file appender that computes the SHA256 of everything written, in the same pass."""

import fcntl
import hashlib
import os
import queue
import threading

READ_CHUNK = 4 * 1024 * 1024
WRITEBACK_WINDOW = 64 * 1024 * 1024
_STOP = object()


class HashingWriter:
    """Appends to `path` (created if missing) while hashing every byte of the file.

    Opening an existing file re-hashes its contents once, so a download can continue after a
    restart. The file is locked (flock) while open: a second writer gets BlockingIOError. Hashing runs on a helper thread (hashlib releases the GIL on large buffers), so the
    network, the disk and SHA256 overlap instead of adding up.
    """

    def __init__(self, path, max_pending=8):
        self.path = path
        self._digest = hashlib.sha256()
        self._file = open(path, "ab+")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise
        self.size = 0
        self._file.seek(0)
        while block := self._file.read(READ_CHUNK):
            self._digest.update(block)
            self.size += len(block)
        self._file.seek(0, os.SEEK_END)
        self._queue = queue.Queue(max_pending)
        self._hasher = threading.Thread(target=self._hash_loop, name="sha256", daemon=True)
        self._hasher.start()

    def _hash_loop(self):
        hashed = 0
        while (block := self._queue.get()) is not _STOP:
            if block is None:  # truncate(): start over
                self._digest = hashlib.sha256()
                hashed = 0
            else:
                self._digest.update(block)
                hashed += len(block)
                if hashed // WRITEBACK_WINDOW != (hashed - len(block)) // WRITEBACK_WINDOW:
                    self._start_writeback(hashed)
            self._queue.task_done()
        self._queue.task_done()

    def _start_writeback(self, upto):
        """Start writing the previous window to disk now, so sync() finds little left to do.

        POSIX_FADV_DONTNEED on Linux starts asynchronous writeback of dirty pages and drops clean
        ones: a model file of several GB neither piles up as dirty memory nor evicts the page cache.
        """
        start = max(upto - 2 * WRITEBACK_WINDOW, 0)
        try:
            os.posix_fadvise(self._file.fileno(), start, WRITEBACK_WINDOW, os.POSIX_FADV_DONTNEED)
        except (AttributeError, OSError, ValueError):
            pass

    def write(self, block: bytes):
        self._file.write(block)
        self._queue.put(block)
        self.size += len(block)

    def truncate(self):
        """Discard everything: the file and the hash start from zero."""
        self._file.truncate(0)
        self._file.seek(0)
        self._queue.put(None)
        self.size = 0

    def sync(self):
        """Flush the file to disk."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def hexdigest(self) -> str:
        self._queue.join()
        return self._digest.hexdigest()

    def close(self):
        if not self._file.closed:
            self._queue.put(_STOP)
            self._hasher.join()
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
