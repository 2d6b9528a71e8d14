"""`manage.py doctor`: verdicts from plain facts, real checks against real sockets, the exit status."""

import importlib.util
import os
import shutil
import socket
import socketserver
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sdhost.doctor import (
    DISK_FAIL_BYTES,
    DISK_WARN_BYTES,
    FAIL,
    OK,
    WARN,
    TorchFacts,
    check_civitai,
    check_database,
    check_disk,
    check_python,
    check_redis,
    check_worker,
    disk_verdict,
    nvidia_gpu_present,
    redis_url,
    torch_verdicts,
)
from tasks_app import worker
from tasks_app.models import RenderWorkerState
from tests.support.fake_civitai import FakeCivitai

NO_GPU = TorchFacts(version="2.13.0+cpu", cuda_build=None, hip_build=None, cuda_available=False, gpus=(),
                    mps_available=False, nvidia_gpu=False, requested_device=None)
ONE_GPU = replace(NO_GPU, version="2.13.0+cu128", cuda_build="12.8", cuda_available=True,
                  gpus=("NVIDIA H200, 139.8 GiB",), nvidia_gpu=True)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def device_check(facts):
    [torch_check, device] = torch_verdicts(facts)
    assert torch_check.name == "torch" and torch_check.status == OK
    return device


# -- Python, torch, GPU -----------------------------------------------------------------------------

def test_python_version():
    assert check_python((3, 10, 12)).status == FAIL
    assert "needs Python 3.11" in check_python((3, 10, 12)).detail
    assert check_python().status == OK and check_python().detail.startswith(".".join(map(str, sys.version_info[:3])))


def test_cpu_torch_on_a_machine_with_an_nvidia_gpu_is_the_warning_users_need():
    check = device_check(replace(NO_GPU, nvidia_gpu=True))
    assert check.status == WARN
    assert "NVIDIA GPU but torch 2.13.0+cpu is a CPU build" in check.detail
    assert "https://pytorch.org/get-started/locally/" in check.detail


def test_cuda_torch_that_cannot_use_the_gpu_points_at_the_driver():
    check = device_check(replace(ONE_GPU, cuda_available=False, gpus=()))
    assert check.status == WARN and "CUDA 12.8 build" in check.detail and "driver" in check.detail


def test_gpu_in_use():
    [torch_check, device] = torch_verdicts(ONE_GPU)
    assert torch_check.detail == "2.13.0+cu128 (CUDA 12.8 build)"
    assert device == type(device)("Render device", OK, "cuda:0 (NVIDIA H200, 139.8 GiB); 1 GPU(s) visible")


@pytest.mark.parametrize("facts, status, words", [
    (replace(NO_GPU, requested_device="cuda"), FAIL, "SDHOST_DEVICE=cuda but torch sees no CUDA device"),
    (replace(ONE_GPU, requested_device="cuda:1"), FAIL, "only 1 GPU(s) are visible"),
    (replace(ONE_GPU, requested_device="cpu"), WARN, "because SDHOST_DEVICE=cpu, although torch sees a GPU: NVIDIA"),
    (replace(ONE_GPU, requested_device="cuda:0"), OK, "cuda:0 (NVIDIA H200, 139.8 GiB)"),
    (replace(ONE_GPU, requested_device="cuda:x"), FAIL, "only 1 GPU(s) are visible"),
    (replace(NO_GPU, requested_device="cpu", nvidia_gpu=True), WARN, "is a CPU build"),
    (replace(NO_GPU, requested_device="mps"), FAIL, "MPS is not available"),
    (replace(NO_GPU, mps_available=True), OK, "mps (Apple GPU)"),
    (NO_GPU, WARN, "no GPU found"),
])
def test_device_verdicts(facts, status, words):
    check = device_check(facts)
    assert check.status == status and words in check.detail


def test_nvidia_gpu_detection(tmp_path):
    gpus, bin_dir = tmp_path / "gpus", tmp_path / "bin"
    gpus.mkdir(), bin_dir.mkdir()
    assert not nvidia_gpu_present(gpus, search_path=str(bin_dir))
    assert not nvidia_gpu_present(tmp_path / "no-driver", search_path=str(bin_dir))
    (gpus / "0000:17:00.0").mkdir()
    assert nvidia_gpu_present(gpus, search_path=str(bin_dir))
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\n")
    smi.chmod(0o755)
    assert nvidia_gpu_present(tmp_path / "no-driver", search_path=str(bin_dir))


# -- disk, database -------------------------------------------------------------------------------

def test_disk_thresholds(tmp_path):
    assert disk_verdict("Disk", tmp_path, DISK_FAIL_BYTES - 1).status == FAIL
    assert disk_verdict("Disk", tmp_path, DISK_WARN_BYTES - 1).status == WARN
    ok = disk_verdict("Disk", tmp_path, 50 * 1024**3)
    assert ok.status == OK and ok.detail == f"50.0 GiB free in {tmp_path}"


def test_disk_of_the_data_directory(settings, data_dirs):
    # the model store does not exist yet and lives on the same disk: one check, for the data directory
    checks = check_disk(settings.SDHOST)
    assert [c.name for c in checks] == ["Disk (data)"]
    assert checks[0].detail.split(":")[0].endswith(f" GiB free in {data_dirs}")
    assert checks[0].status == disk_verdict("Disk (data)", data_dirs, shutil.disk_usage(data_dirs).free).status


def test_database_reachable(db):
    check = check_database()
    assert check.status == OK and check.detail.startswith(("SQLite ", "postgresql://"))
    assert check.detail.endswith("schema up to date")


# -- Redis ----------------------------------------------------------------------------------------

class FakeRedis(socketserver.ThreadingTCPServer):
    """Answers RESP PING with +PONG; with a password, only after a matching AUTH."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, password=None):
        self.password, self.commands = password, []
        super().__init__(("127.0.0.1", 0), FakeRedisHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.server_address[1]}/0"


class FakeRedisHandler(socketserver.StreamRequestHandler):
    def handle(self):
        authed = self.server.password is None
        while header := self.rfile.readline():
            args = []
            for _ in range(int(header[1:])):  # *N, then $length and the value of each argument
                self.rfile.readline()
                args.append(self.rfile.readline().rstrip(b"\r\n").decode())
            self.server.commands.append(args)
            if args[0] == "AUTH":
                authed = args[-1] == self.server.password
                self.wfile.write(b"+OK\r\n" if authed else b"-WRONGPASS invalid password\r\n")
            elif not authed:
                self.wfile.write(b"-NOAUTH Authentication required.\r\n")
            else:
                self.wfile.write(b"+PONG\r\n")


@pytest.fixture
def fake_redis():
    servers = []

    def make(password=None):
        servers.append(FakeRedis(password))
        return servers[-1]

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_redis_not_configured():
    assert check_redis(None) == [type(check_redis(None)[0])("Redis", OK, "not configured (one process: server "
                                                                         "and worker share memory)")]


def redis_client_verdict(checks):
    client_missing = importlib.util.find_spec("channels_redis") is None
    assert [c.name for c in checks[1:]] == (["Redis client"] if client_missing else [])
    return checks[0]


def test_redis_answers_ping(fake_redis):
    server = fake_redis()
    check = redis_client_verdict(check_redis(server.url))
    assert check.status == OK and check.detail == f"{server.url} answers PING"
    assert server.commands == [["PING"]]


def test_redis_with_a_password(fake_redis):
    server = fake_redis(password="pa:ss")
    without = redis_client_verdict(check_redis(server.url))
    assert without.status == FAIL and "NOAUTH" in without.detail
    url = server.url.replace("redis://", "redis://:pa%3Ass@")
    with_password = redis_client_verdict(check_redis(url))
    assert with_password.status == OK and "pa%3Ass" not in with_password.detail
    assert server.commands[-2:] == [["AUTH", "pa:ss"], ["PING"]]


def test_redis_unreachable():
    [check, *_] = check_redis(f"redis://127.0.0.1:{closed_port()}/0")
    assert check.status == FAIL and "unreachable" in check.detail and "SDHOST_REDIS_URL" in check.detail


def test_redis_url_of_the_channel_layer():
    assert redis_url({"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}) is None
    assert redis_url({"default": {"CONFIG": {"hosts": ["redis://h:6380/1"]}}}) == "redis://h:6380/1"


# -- Civitai --------------------------------------------------------------------------------------

@pytest.fixture
def civitai():
    fake = FakeCivitai().start()
    fake.add_model(10391, "Dreamlike Valley")
    yield fake
    fake.stop()


def test_civitai_reachable(civitai):
    check = check_civitai(civitai.base_url, "tok", True)
    assert check.status == OK and check.detail == f"{civitai.base_url} reachable; token set"
    assert civitai.api_requests == [{"path": "/api/v1/models", "authorization": "Bearer tok"}]
    assert "gated downloads need SDHOST_CIVITAI_TOKEN" in check_civitai(civitai.base_url, None, True).detail


def test_civitai_refusing_the_token_or_failing(civitai):
    civitai.token, civitai.token_for = "right", {"api"}
    refused = check_civitai(civitai.base_url, "wrong", True)
    assert refused.status == WARN and "HTTP 401" in refused.detail and "SDHOST_CIVITAI_TOKEN" in refused.detail
    civitai.api_status = 503
    assert "answered HTTP 503" in check_civitai(civitai.base_url, "right", True).detail


def test_civitai_unreachable_is_a_warning_not_a_failure():
    base = f"http://127.0.0.1:{closed_port()}"
    check = check_civitai(base, None, True)
    assert check.status == WARN and check.detail.startswith(f"{base} unreachable (ConnectionError)")
    assert check_civitai(base, None, False) == type(check)("Civitai", OK, "imports disabled (SDHOST_CIVITAI_ENABLED=false)")


# -- the render worker ----------------------------------------------------------------------------

def test_worker_heartbeat(transactional_db):
    check = check_worker(True)
    assert check.status == WARN and check.detail.startswith("not running; 0 task(s) waiting")
    assert "python manage.py serve" in check.detail
    assert "runworker render" in check_worker(False).detail
    worker.start_in_process()
    try:
        deadline = time.monotonic() + 30
        while not RenderWorkerState.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        check = check_worker(True)
        assert check.status == OK and check.detail.startswith(f"alive (pid {os.getpid()} on ")
    finally:
        worker.stop_in_process()
    # a worker that died without saying goodbye (a stopped one removes its row)
    RenderWorkerState.objects.create(id="gone", host="here", pid=1, heartbeat_at=timezone.now() - timedelta(minutes=5))
    stale = check_worker(True)
    assert stale.status == WARN and stale.detail.startswith("not running (last heartbeat 300 s ago)")


# -- the command ----------------------------------------------------------------------------------

def test_doctor_command_exit_status(settings, db, civitai):
    settings.SDHOST = {**settings.SDHOST, "CIVITAI_BASE_URL": civitai.base_url, "CIVITAI_ENABLED": True}
    out = StringIO()
    call_command("doctor", stdout=out)  # warnings at most (no GPU, no worker): no CommandError
    text = out.getvalue()
    for name in ("Python", "torch", "Render device", "Disk (data)", "Database", "Redis", "Civitai", "Render worker"):
        assert f"  {name} " in text
    assert text.rstrip().splitlines()[-1] in {"All is well."} | {f"No failures ({n} warning(s))." for n in range(9)}

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [f"redis://127.0.0.1:{closed_port()}/0"]}}}
    out = StringIO()
    with pytest.raises(CommandError, match=r"check\(s\) failed: Redis") as failure:
        call_command("doctor", stdout=out)
    assert failure.value.returncode == 1
    assert "FAIL  Redis " in out.getvalue()
