"""Bounded waits for the in-process tests: on a condition, or for exactly n bytes."""

from __future__ import annotations

from collections.abc import Callable

import trio

POLL_INTERVAL = 0.01


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds.

    For server state with no event to wait on (counters read from outside).
    """
    with trio.fail_after(timeout):
        while True:
            if predicate():
                return
            await trio.sleep(POLL_INTERVAL)


async def receive_exactly(stream: trio.abc.ReceiveStream, n: int, timeout: float = 5.0) -> bytes:
    """Read ``n`` bytes, or fewer if the peer closes first."""
    data = bytearray()
    with trio.fail_after(timeout):
        while len(data) < n:
            chunk = await stream.receive_some(n - len(data))
            if not chunk:
                break
            data += chunk
    return bytes(data)
