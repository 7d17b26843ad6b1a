"""The chat baselines in threads on loopback, for the chat and scale load tests."""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lab.bench.baselines import asyncio_chat
from lab.bench.baselines.threaded_chat import ThreadedChat, listen

JOIN_TIMEOUT = 10.0


@contextmanager
def threaded_chat() -> Iterator[int]:
    """The threaded baseline on a free loopback port (yields it); stopped at the end.

    Its clients' threads end when the clients close their connections.
    """
    listener = listen(0, "127.0.0.1")
    thread = threading.Thread(target=ThreadedChat().serve, args=(listener,), daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(JOIN_TIMEOUT)


@contextmanager
def asyncio_chat_server() -> Iterator[int]:
    """The asyncio baseline in a thread with its own event loop; stopped at the end."""
    ports: queue.Queue[int] = queue.Queue()
    loop = asyncio.new_event_loop()
    task = loop.create_task(asyncio_chat.serve("127.0.0.1", 0, ports.put))

    def run() -> None:
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield ports.get(timeout=JOIN_TIMEOUT)
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(JOIN_TIMEOUT)
