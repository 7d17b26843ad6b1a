"""The stdlib exec baseline served from a thread on a free loopback port, for the exec tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lab.bench.baselines.threaded_exec import ThreadedExecServer

TOKEN = "bench-token"


@contextmanager
def running_baseline(mode: str, token: str = TOKEN) -> Iterator[ThreadedExecServer]:
    """A :class:`ThreadedExecServer` in ``mode`` serving for the block, then shut down."""
    server = ThreadedExecServer(("127.0.0.1", 0), mode, token=token)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
