"""A real HTTP imitation of Civitai on 127.0.0.1 for tests and the download benchmark.

Serves GET /api/v1/models (one item), /api/v1/models/{id}, GET /api/v1/model-versions/{id}, GET
/api/v1/model-versions/by-hash/{sha256} (entries of `api_requests` record its arrival, `at`), the download URL
/api/download/models/{version_id} (307 to a "signed" URL on another host name, like Civitai's CDN),
the signed file with Range / If-Range (206, or 200 when the range is ignored or the ETag changed),
and preview images. Behaviour is switched per test through attributes: `token` (401 without it),
`token_for` ({"api", "download"}), `throttle_bps`, `drop_after` (byte counts: the n-th file
request closes the socket after that many body bytes), `ignore_range`, `api_status` (force an
HTTP status), `api_invalid_json`. Counters: `bytes_served`, `file_requests`, `api_requests`.
`stop()` cuts open connections; `start()` listens again on the same port.
"""

import functools
import hashlib
import io
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image as PILImage

RANGE_RE = re.compile(r"bytes=(\d+)-(\d*)$")
COPY_CHUNK = 1024 * 1024


def png_bytes(color=(200, 30, 30), size=(16, 16)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@dataclass
class FakeFile:
    """A downloadable file: bytes in memory or a path on disk (the benchmark's 1 GiB file)."""

    data: bytes | None = None
    path: str | None = None
    etag: str = '"v1"'

    @property
    def size(self):
        return len(self.data) if self.data is not None else os.path.getsize(self.path)

    @functools.cached_property
    def sha256(self):
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        with open(self.path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass
class FakeVersion:
    version_id: int
    model_id: int
    file: FakeFile
    name: str = "v1.0"
    base_model: str = "SD 1.5"
    trained_words: list = field(default_factory=list)
    file_name: str = "model.safetensors"
    stated_sha256: str | None = None  # what the catalogue claims (default: the real hash)
    size_kb: float | None = None
    preview: bytes | None = None
    extra_files: list = field(default_factory=list)


@dataclass
class FakeModel:
    model_id: int
    name: str
    type: str = "Checkpoint"
    description: str = "<p>A model.</p>"
    tags: list = field(default_factory=list)
    versions: list = field(default_factory=list)  # newest first, like Civitai


class FakeCivitai:
    def __init__(self):
        self.models: dict[int, FakeModel] = {}
        self.versions: dict[int, FakeVersion] = {}
        self.token = None
        self.token_for = {"download"}
        self.throttle_bps = None
        self.drop_after: list[int] = []
        self.ignore_range = False
        self.api_status = None
        self.api_invalid_json = False
        self.signed_host = "localhost"  # another host name than the API's: the token must not follow
        self.bytes_served = 0
        self.file_requests: list[dict] = []
        self.api_requests: list[dict] = []
        self.port = 0
        self._server = None
        self._connections = set()
        self._lock = threading.Lock()

    # -- catalogue content --------------------------------------------------------------------
    def add_model(self, model_id, name, *, type="Checkpoint", description="<p>A model.</p>", tags=()):
        model = FakeModel(model_id, name, type, description, list(tags))
        self.models[model_id] = model
        return model

    def add_version(self, model_id, version_id, data: bytes | None = None, *, path=None, **options):
        """Add a version (it becomes the model's latest) serving `data` (or the file at `path`)."""
        version = FakeVersion(version_id, model_id, FakeFile(data=data, path=path), **options)
        self.versions[version_id] = version
        self.models[model_id].versions.insert(0, version)
        return version

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def version_doc(self, version: FakeVersion):
        model = self.models[version.model_id]
        file = version.file
        files = [*version.extra_files, {
            "id": version.version_id * 10,
            "name": version.file_name,
            "sizeKB": version.size_kb if version.size_kb is not None else file.size / 1024,
            "type": "Model",
            "primary": True,
            "hashes": {"SHA256": (version.stated_sha256 or file.sha256).upper(), "CRC32": "00000000"},
            "downloadUrl": f"{self.base_url}/api/download/models/{version.version_id}",
        }]
        images = []
        if version.preview is not None:
            images.append({"url": f"{self.base_url}/images/{version.version_id}.png", "width": 16, "height": 16,
                           "nsfwLevel": 1, "type": "image"})
        return {
            "id": version.version_id, "modelId": model.model_id, "name": version.name,
            "baseModel": version.base_model, "trainedWords": version.trained_words,
            "model": {"name": model.name, "type": model.type},
            "files": files, "images": images,
            "downloadUrl": f"{self.base_url}/api/download/models/{version.version_id}",
        }

    def model_doc(self, model: FakeModel):
        return {
            "id": model.model_id, "name": model.name, "description": model.description, "type": model.type,
            "tags": model.tags, "modelVersions": [self.version_doc(v) for v in model.versions],
        }

    # -- server lifecycle -----------------------------------------------------------------------
    def start(self):
        fake = self

        class Handler(FakeHandler):
            civitai = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self):
        """Stop listening and cut every open connection (like a crashed or restarted server)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def track(self, conn, add):
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)


class FakeHandler(BaseHTTPRequestHandler):
    civitai: FakeCivitai
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.civitai.track(self.connection, True)

    def finish(self):
        self.civitai.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def send_json(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self, scope):
        fake = self.civitai
        if not fake.token or scope not in fake.token_for:
            return True
        return self.headers.get("Authorization") == f"Bearer {fake.token}"

    def do_GET(self):
        fake = self.civitai
        path = self.path.split("?", 1)[0]
        if match := re.fullmatch(r"/api/v1/model-versions/by-hash/([0-9A-Za-z]+)", path):
            fake.api_requests.append({"path": path, "authorization": self.headers.get("Authorization"),
                                      "at": time.monotonic()})
            return self.serve_by_hash(match.group(1).lower())
        if match := re.fullmatch(r"/api/v1/(models|model-versions)/(\d+)", path):
            fake.api_requests.append({"path": path, "authorization": self.headers.get("Authorization")})
            return self.serve_api(match.group(1), int(match.group(2)))
        if path == "/api/v1/models":  # the catalogue listing (SD-Host's doctor reads one item)
            fake.api_requests.append({"path": path, "authorization": self.headers.get("Authorization")})
            if fake.api_status:
                return self.send_json(fake.api_status, {"error": "forced"})
            if not self.authorized("api"):
                return self.send_json(401, {"error": "Unauthorized"})
            items = [fake.model_doc(model) for model in fake.models.values()][:1]
            return self.send_json(200, {"items": items, "metadata": {}})
        if match := re.fullmatch(r"/api/download/models/(\d+)", path):
            fake.api_requests.append({"path": path, "authorization": self.headers.get("Authorization")})
            if not self.authorized("download"):
                return self.send_json(401, {"error": "Unauthorized"})
            if int(match.group(1)) not in fake.versions:
                return self.send_json(404, {"error": "Not found"})
            self.send_response(307)
            self.send_header("Location", f"http://{fake.signed_host}:{fake.port}/files/{match.group(1)}?sig=s1gn3d")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if match := re.fullmatch(r"/files/(\d+)", path):
            return self.serve_file(fake.versions[int(match.group(1))])
        if match := re.fullmatch(r"/images/(\d+)\.png", path):
            version = fake.versions.get(int(match.group(1)))
            if version is None or version.preview is None:
                return self.send_json(404, {"error": "Not found"})
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(version.preview)))
            self.end_headers()
            self.wfile.write(version.preview)
            return None
        return self.send_json(404, {"error": "Not found"})

    def serve_api(self, kind, ident):
        fake = self.civitai
        if fake.api_status:
            return self.send_json(fake.api_status, {"error": "forced"})
        if not self.authorized("api"):
            return self.send_json(401, {"error": "Unauthorized"})
        if fake.api_invalid_json:
            return self.send_json(200, b"<html>not json")
        if kind == "models":
            model = fake.models.get(ident)
            return self.send_json(200, fake.model_doc(model)) if model else self.send_json(404, {"error": "No model"})
        version = fake.versions.get(ident)
        return self.send_json(200, fake.version_doc(version)) if version else self.send_json(404, {"error": "No version"})

    def serve_by_hash(self, sha256):
        """Civitai's by-hash lookup: the version one of whose files has this SHA256 (404 when none has)."""
        fake = self.civitai
        if fake.api_status:
            return self.send_json(fake.api_status, {"error": "forced"})
        if not self.authorized("api"):
            return self.send_json(401, {"error": "Unauthorized"})
        for version in fake.versions.values():
            if version.file.sha256 == sha256:
                return self.send_json(200, fake.version_doc(version))
        return self.send_json(404, {"error": "Model not found"})

    def serve_file(self, version: FakeVersion):
        fake = self.civitai
        file = version.file
        size = file.size
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        fake.file_requests.append({"range": wanted, "if_range": if_range,
                                   "authorization": self.headers.get("Authorization")})
        start, end = 0, size - 1
        partial = False
        match = RANGE_RE.match(wanted or "")
        if match and not fake.ignore_range and (if_range is None or if_range == file.etag):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            partial = True
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", file.etag)
        self.send_header("Content-Length", str(end - start + 1))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        drop = fake.drop_after.pop(0) if fake.drop_after else None
        self.copy_body(file, start, end - start + 1, drop)

    def copy_body(self, file: FakeFile, start, length, drop):
        fake = self.civitai
        limit = length if drop is None else min(drop, length)
        if file.path is not None and fake.throttle_bps is None:
            with open(file.path, "rb") as f:
                sent = self.send_file_range(f, start, limit)
        else:
            source = io.BytesIO(file.data) if file.data is not None else open(file.path, "rb")
            with source:
                source.seek(start)
                sent = 0
                piece = COPY_CHUNK if fake.throttle_bps is None else max(1024, fake.throttle_bps // 20)
                while sent < limit:
                    block = source.read(min(piece, limit - sent))
                    if not block:
                        break
                    try:
                        self.wfile.write(block)
                    except OSError:
                        break
                    sent += len(block)
                    with fake._lock:
                        fake.bytes_served += len(block)
                    if fake.throttle_bps:
                        time.sleep(len(block) / fake.throttle_bps)
        if drop is not None and drop < length:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def send_file_range(self, f, start, length):
        """Zero-copy os.sendfile for the benchmark's large file."""
        self.wfile.flush()
        sent = 0
        out = self.connection.fileno()
        try:
            while sent < length:
                n = os.sendfile(out, f.fileno(), start + sent, min(length - sent, 64 * COPY_CHUNK))
                if n == 0:
                    break
                sent += n
        except OSError:
            pass
        with self.civitai._lock:
            self.civitai.bytes_served += sent
        return sent
