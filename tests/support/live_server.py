"""Test support: a real ASGI server (uvicorn, as `manage.py serve` runs it) on 127.0.0.1 in a background thread.

Used by tests that need what only a real server gives: SSE streams, concurrent clients, slow clients.
One server serves the whole test session.
"""

import socket
import threading

_server = None
_lock = threading.Lock()


def live_asgi_server(timeout=30):
    """Start (once) uvicorn serving sdhost.asgi on a free loopback port; return its base URL."""
    global _server
    with _lock:
        if _server is None:
            import uvicorn

            from sdhost.asgi import application
            from sdhost.serving import server_config

            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            server = uvicorn.Server(server_config(application, log_level="warning"))
            threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True).start()
            for _ in range(int(timeout / 0.05)):
                if server.started:
                    break
                threading.Event().wait(0.05)
            else:
                raise RuntimeError("uvicorn did not start")
            host, port = sock.getsockname()
            _server = (server, f"http://{host}:{port}")
        return _server[1]
