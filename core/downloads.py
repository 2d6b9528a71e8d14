"""Stored files as HTTP responses: streamed, with ETag, single byte ranges (RFC 9110 §14) and If-Range."""

import os
import re
import unicodedata
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.http import FileResponse, HttpResponseNotModified

from .errors import APIError, error_response

RWF_NOWAIT = getattr(os, "RWF_NOWAIT", None)  # Linux: a read that fails rather than wait for the disk
RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class FileDownload(FileResponse):
    """FileResponse (of a LimitedReader) that also streams under ASGI.

    Django's ASGI handler consumes a synchronous iterator completely (into memory) before sending
    anything; `__aiter__` instead reads one block at a time, the next only once the server has
    taken the last (sdhost/serving.py). A block the page cache holds is read at once; one that
    needs the disk is read in a worker thread, so the event loop never waits for the disk (the
    thread hop costs more CPU than the copy: about a third of a cached download's). Django sets
    `block_size` to its 64 KiB message size; `read_size` is ours.
    """

    read_size = 1024 * 1024

    async def __aiter__(self):
        reader = self.file_to_stream
        read_from_disk = sync_to_async(reader.read, thread_sensitive=False)
        while True:
            block = reader.read_cached(self.read_size)
            if block is None:
                block = await read_from_disk(self.read_size)
            if not block:
                return
            yield block


class LimitedReader:
    """Reads at most `length` bytes of `file` from its current position."""

    def __init__(self, file, length):
        self.file = file
        self.remaining = length

    def read(self, size=-1):
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.file.read(size)
        self.remaining -= len(data)
        return data

    def read_cached(self, size):
        """Like `read`, but only what the page cache holds now, without waiting for the disk; None if nothing."""
        size = min(size, self.remaining)
        if size <= 0:
            return b""
        if RWF_NOWAIT is None:
            return None
        buffer = bytearray(size)
        try:
            count = os.preadv(self.file.fileno(), [buffer], self.file.tell(), RWF_NOWAIT)
        except OSError:  # EAGAIN: not in the page cache (or a file system without RWF_NOWAIT)
            return None
        if not count:
            return None
        self.file.seek(count, os.SEEK_CUR)
        self.remaining -= count
        return bytes(memoryview(buffer)[:count])

    def close(self):
        self.file.close()


def parse_range(header, size):
    """(start, end) inclusive for a single satisfiable byte range; None to serve the whole file.

    Raises APIError 416 when the range cannot be satisfied. Multi-range and malformed headers are
    ignored (RFC 9110 allows a server to answer those with the full representation).
    """
    match = RANGE_RE.match(header or "")
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            raise range_not_satisfiable(size)
        return max(size - length, 0), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # invalid range: ignore it
    if start >= size:
        raise range_not_satisfiable(size)
    return start, end


def range_not_satisfiable(size):
    error = APIError(416, "range_not_satisfiable", f"The requested range is outside the file of {size} bytes")
    error.headers = {"Content-Range": f"bytes */{size}"}
    return error


def attachment_header(filename: str, disposition="attachment") -> str:
    """Content-Disposition with a safe ASCII `filename` and, if needed, the exact name as RFC 5987 `filename*`."""
    cleaned = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in filename)
    cleaned = cleaned.replace("/", "_").replace("\\", "_").strip() or "download"
    ascii_name = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"%;' else "_" for c in cleaned)
    header = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != cleaned:
        header += f"; filename*=UTF-8''{quote(cleaned, safe='')}"
    return header


def file_response(request, path, *, content_type, etag, filename=None, disposition="attachment"):
    """Stream `path` as the answer to `request` (GET/HEAD), honouring Range, If-Range and If-None-Match.

    `etag` is the file's identity (its SHA256); it is sent quoted as a strong ETag.
    """
    quoted_etag = f'"{etag}"'
    file = open(path, "rb")
    try:
        size = os.fstat(file.fileno()).st_size
        if request.headers.get("If-None-Match") in (quoted_etag, "*"):
            file.close()
            response = HttpResponseNotModified()
            response["ETag"] = quoted_etag
            return response
        byte_range = None
        if_range = request.headers.get("If-Range")
        if "Range" in request.headers and (if_range is None or if_range.strip() == quoted_etag):
            byte_range = parse_range(request.headers["Range"], size)
    except APIError as exc:
        file.close()
        response = error_response(exc)
        for name, value in exc.headers.items():
            response[name] = value
        response["Accept-Ranges"] = "bytes"
        return response
    except BaseException:
        file.close()
        raise

    start, end = byte_range or (0, size - 1)
    file.seek(start)
    # HEAD: the headers of GET, no body read (the server would read a multi-GB file only to drop it)
    body = LimitedReader(file, 0 if request.method == "HEAD" else end - start + 1)
    response = FileDownload(body, content_type=content_type, status=200 if byte_range is None else 206)
    response["Content-Length"] = str(end - start + 1)
    if byte_range is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = quoted_etag
    if filename:
        response["Content-Disposition"] = attachment_header(filename, disposition)
    return response
