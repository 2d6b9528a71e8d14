"""`manage.py serve`: migrate, then run uvicorn (HTTP, SSE) with the render worker in-process."""

import errno
import ipaddress
import socket

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core.store_sweep import sweep_all
from models_app.civitai.manager import resume_pending_imports
from models_app.roots import scanner
from sdhost.banner import collect_facts, render_banner
from sdhost.serving import serve
from sdhost.settings import host_name
from tasks_app.worker import start_in_process


def is_loopback(host: str) -> bool:
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except OSError:
            return False


def token_refusal(api_token):
    """Why SDHOST_API_TOKEN cannot be used, or None. A blank one would count as set, open a LAN bind, and be
    required from clients that cannot send it; whitespace around one is dropped from an HTTP header, so a client
    could never send it either."""
    if api_token is None or (api_token.strip() and api_token == api_token.strip()):
        return None
    what = "is blank (only whitespace)" if not api_token.strip() else "starts or ends with whitespace"
    return (f"SDHOST_API_TOKEN {what}: set it to the token itself without surrounding whitespace, "
            "or unset it (a token is needed to listen on a non-loopback address).")


def bind_refusal(host: str, api_token, insecure_bind: bool):
    """Why serving on `host` is refused (D14), or None: a LAN-reachable server needs a token or consent."""
    if is_loopback(host) or api_token or insecure_bind:
        return None
    return (
        f"Refusing to listen on {host} without an API token: set SDHOST_API_TOKEN, "
        "or pass --insecure-bind (SDHOST_ALLOW_INSECURE_BIND=1) to accept an open LAN server."
    )


def port_refusal(host: str, port: int):
    """Why serve cannot listen on host:port (taken by another program, not ours to use), or None.

    Bound the way uvicorn binds (every address of the host, SO_REUSEADDR), then let go: checked before the
    banner, so a busy port is one line naming the setting, not a banner with URLs of a server that never runs."""
    other = port + 1 if 0 < port < 65535 else 8000
    change = f"choose another port with --port (or SDHOST_PORT), e.g. `python manage.py serve --port {other}`"
    if not 0 < port < 65536:
        return f"Port {port} is not a TCP port (1-65535): {change}."
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"Cannot listen on {host}: {exc.strerror}; set --host (or SDHOST_HOST) to an address of this machine."
    for family, kind, proto, _, address in addresses:
        try:
            probe = socket.socket(family, kind, proto)
        except OSError:  # this address family is not enabled: uvicorn (asyncio) skips it too
            continue
        with probe:
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:  # likewise
                    continue
                if exc.errno == errno.EADDRINUSE:
                    return (f"Port {port} on {host} is already in use (is SD-Host already running?): {change}.")
                return f"Cannot listen on {host} port {port} ({exc.strerror}): {change}, or another --host."
    return None


class Command(BaseCommand):
    help = "Apply migrations and serve SD-Host (API, SSE, admin) with uvicorn and an in-process render worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None, help="Bind address (default SDHOST_HOST, 127.0.0.1)")
        parser.add_argument("--port", type=int, default=None, help="Port (default SDHOST_PORT, 8000)")
        parser.add_argument("--no-worker", action="store_true", help="Do not run the render worker in this process")
        parser.add_argument(
            "--insecure-bind", action="store_true",
            help="Allow a non-loopback bind address without SDHOST_API_TOKEN (also SDHOST_ALLOW_INSECURE_BIND=1)",
        )

    def handle(self, *args, host=None, port=None, no_worker=False, insecure_bind=False, **options):
        cfg = settings.SDHOST
        host = host or cfg["HOST"]
        port = port or cfg["PORT"]
        refusal = token_refusal(cfg["API_TOKEN"]) or bind_refusal(
            host, cfg["API_TOKEN"], insecure_bind or cfg["ALLOW_INSECURE_BIND"])
        refusal = refusal or port_refusal(host, port)
        if refusal:
            raise CommandError(refusal)
        settings.SDHOST["HOST"], settings.SDHOST["PORT"] = host, port
        if host_name(host) not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host_name(host)]
        call_command("migrate", interactive=False, verbosity=0)
        sweep_all(cfg["SWEEP_GRACE_SECONDS"])  # what a crash left in the stores (issue 8)
        worker_in_process = cfg["RENDER_WORKER"] and not no_worker
        if worker_in_process:
            start_in_process()
        if cfg["AUTO_DOWNLOAD"]:  # D30: interrupted Civitai imports continue at start-up
            resumed = resume_pending_imports()
            if resumed:
                self.stdout.write(f"Resuming {len(resumed)} Civitai import(s)")
        if cfg["SCAN_ON_START"] and cfg["MODEL_ROOTS"]:  # issue 24: the watched model folders, in the background
            scanner.start()
            self.stdout.write(f"Scanning {len(cfg['MODEL_ROOTS'])} model folder(s) in place "
                              "(progress: /api/models/scan/events)")
        self.stdout.write(render_banner(collect_facts(host, port, loopback=is_loopback(host),
                                                      worker_in_process=worker_in_process)))
        self.stdout.flush()  # before the server takes over, also when stdout is a pipe or a log file
        serve(host, port)
