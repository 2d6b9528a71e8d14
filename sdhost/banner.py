"""The start-up banner of `manage.py serve`: where the API is, what it stores where, who renders on what."""

import ipaddress
from dataclasses import dataclass

import sdhost
from core.database import database_label

ALL_ADDRESSES = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class BannerFacts:
    host: str
    port: int
    data_dir: str
    database: str  # e.g. "SQLite /srv/sdhost/sdhost.sqlite3"
    device: str  # e.g. "cuda:0 (NVIDIA H200, 139.8 GiB)" or "cpu"
    token_required: bool
    loopback: bool  # bound to a loopback address only
    worker_in_process: bool
    admin_exists: bool


def base_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens: the loopback address when bound to every address."""
    if host in ALL_ADDRESSES:
        host = "127.0.0.1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}"


def render_banner(facts: BannerFacts) -> str:
    url = base_url(facts.host, facts.port)
    lines = [
        f"SD-Host {sdhost.__version__}",
        f"  Web UI        {url}/",
        f"  API           {url}/api",
        f"  API docs      {url}/api/docs",
        f"  Admin         {url}/admin/",
    ]
    if facts.host in ALL_ADDRESSES:
        lines.append(f"  Listening on  every address ({facts.host or '*'}): from other machines use "
                     f"http://<this machine's address>:{facts.port}")
    lines += [
        f"  Data          {facts.data_dir}",
        f"  Database      {facts.database}",
        f"  Renders on    {facts.device}",
    ]
    if facts.token_required:
        lines.append("  Token         required: send 'Authorization: Bearer $SDHOST_API_TOKEN' (SSE also ?token=)")
    else:
        lines.append("  Token         not required" + ("" if facts.loopback else
                                                       ": anyone who can reach this address can use the API"))
    if facts.worker_in_process:
        lines.append("  Worker        in this process")
    else:
        lines.append("  Worker        not in this process: run 'python manage.py runworker render' to render")
    if not facts.admin_exists:
        lines.append("  Admin user    none yet: create one with 'python manage.py createsuperuser'")
    return "\n".join(lines)


def describe_device(requested: str | None = None) -> str:
    """The device renders run on (SDHOST_DEVICE or auto: cuda, mps, cpu), with a GPU's name and memory."""
    import torch

    device = requested or ("cuda" if torch.cuda.is_available() else
                           "mps" if torch.backends.mps.is_available() else "cpu")
    if device.startswith("cuda"):
        try:
            index = int(device.partition(":")[2] or torch.cuda.current_device())
            props = torch.cuda.get_device_properties(index)
        except (AssertionError, RuntimeError, ValueError):  # no CUDA build, no such GPU, not a number
            return f"{device} (not available: renders will fail; see 'python manage.py doctor')"
        return f"cuda:{index} ({props.name}, {props.total_memory / 1024**3:.1f} GiB)"
    if device == "mps":
        return "mps (Apple GPU, shared memory)"
    if device == "cpu":
        return "cpu (slow with real checkpoints; 'python manage.py doctor' says why no GPU is used)"
    return device


def collect_facts(host: str, port: int, *, loopback: bool, worker_in_process: bool) -> BannerFacts:
    """The facts of this server, read from settings and the (migrated) database."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    cfg = settings.SDHOST
    return BannerFacts(
        host=host, port=port, data_dir=str(cfg["DATA_DIR"]), database=database_label(),
        device=describe_device(cfg["DEVICE"]), token_required=bool(cfg["API_TOKEN"]),
        loopback=loopback, worker_in_process=worker_in_process,
        admin_exists=get_user_model().objects.filter(is_superuser=True).exists(),
    )
