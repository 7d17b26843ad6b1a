"""How every twin serves: the stdlib's ``socketserver``, a thread per client, no timeouts.

This is the course chapter's server skeleton: a ``ThreadingTCPServer`` and a
``BaseRequestHandler`` whose ``handle`` talks to one client with blocking
calls. No read or write has a deadline, so a silent or stuck client holds its
thread for ever; the twins keep that habit on purpose (each twin's docstring
names the one bug that the harness must catch).

Resource handling: socketserver closes each client's socket when its
``handle`` returns; handler threads are daemon threads, so a client stuck in
a blocking call never keeps the process alive once the server stops.
:func:`serve_until_signalled` closes the listening socket on the way out.

Error handling: an exception in a handler ends that client only and is
logged as one line on stderr (socketserver would print a traceback).
"""

from __future__ import annotations

import os
import signal
import socketserver
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class TwinServer(socketserver.ThreadingTCPServer):
    """A thread per client; counts the connections that have ended (for tests)."""

    allow_reuse_address = True
    daemon_threads = True
    name = "twin"

    def __init__(self, address: tuple[str, int],
                 handler: type[socketserver.BaseRequestHandler]) -> None:
        super().__init__(address, handler)
        self.ended = 0  # connections whose handler has returned
        self._ended_lock = threading.Lock()

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._ended_lock:
            self.ended += 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        print(f"{self.name}: client {client_address}: {error!r}", file=sys.stderr, flush=True)


def address_from_env(env: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """``NETLAB_HOST`` and ``NETLAB_PORT``, as the real servers read them."""
    return env.get("NETLAB_HOST") or DEFAULT_HOST, int(env.get("NETLAB_PORT") or DEFAULT_PORT)


def serve_until_signalled(server: TwinServer) -> int:
    """Serve in this thread until SIGTERM or SIGINT, then close; the exit status (0)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return: never from its own thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    host, port = server.server_address[:2]
    print(f"{server.name}: listening on {host!s}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    print(f"{server.name}: stopped", file=sys.stderr, flush=True)
    return 0
