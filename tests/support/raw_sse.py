"""Test support: an SSE request as an EventSource makes it, over a plain socket, read with the event-stream rules.

No HTTP client library in between: the test sees the status line, the headers and the exact frames (`id:`,
`data:`), and sends `Last-Event-ID` the way a browser reconnecting does.
"""

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    events: list[dict] = field(default_factory=list)  # {"id": str | None, "data": str} per dispatched event


def parse_event_stream(text: str) -> list[dict]:
    """The events of an event stream (HTML's parsing rules: fields per line, a blank line dispatches; comments
    and fields other than id/data are skipped)."""
    events, data, event_id = [], [], None
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            if data:
                events.append({"id": event_id, "data": "\n".join(data)})
            data, event_id = [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
    return events


def sse_request(url: str, last_event_id: str | None = None, *, read_until=None, timeout=30) -> RawResponse:
    """GET `url` as an EventSource does (HTTP/1.1, `Accept: text/event-stream`, `Last-Event-ID` on a reconnect).

    Reads until the server ends the response, or, with `read_until(events)`, until that is true of the events
    read so far (the connection is then dropped, as a closed EventSource does)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream", "Cache-Control: no-cache",
             "Connection: close"]
    if last_event_id is not None:
        lines.append(f"Last-Event-ID: {last_event_id}")
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            if read_until is not None and b"\r\n\r\n" in received:
                head, _, body = received.partition(b"\r\n\r\n")
                if read_until(parse_event_stream(dechunk_partial(body).decode())):
                    break
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk_partial(body)
    response = RawResponse(int(status_line.split()[1]), headers, body)
    if headers.get("content-type", "").startswith("text/event-stream"):
        response.events = parse_event_stream(body.decode())
    return response


def dechunk_partial(body: bytes) -> bytes:
    """The data of the complete chunks of a chunked body read so far."""
    out = bytearray()
    while True:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            break
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0 or len(rest) < size + 2:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return bytes(out)
