"""Test support: a real ASGI server (daphne) on 127.0.0.1 in a background thread.

Used by tests that need what only a real server gives: SSE streams, concurrent clients.
The Twisted reactor can run once per process, so one server serves the whole test session.
"""

import threading

_server = None
_lock = threading.Lock()


def live_asgi_server(timeout=30):
    """Start (once) daphne serving sdhost.asgi on a free loopback port; return its base URL."""
    global _server
    with _lock:
        if _server is None:
            from sdhost.asgi import application
            from sdhost.server import SDHostServer

            ready = threading.Event()
            server = SDHostServer(
                application,
                endpoints=["tcp:port=0:interface=127.0.0.1"],
                signal_handlers=False,
                ready_callable=ready.set,
                verbosity=0,
            )
            threading.Thread(target=server.run, name="daphne-test", daemon=True).start()
            if not ready.wait(timeout):
                raise RuntimeError("daphne did not start")
            for _ in range(100):
                if server.listening_addresses:
                    break
                threading.Event().wait(0.05)
            host, port = server.listening_addresses[0]
            _server = (server, f"http://{host}:{port}")
        return _server[1]
