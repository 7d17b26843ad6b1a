"""Running a server as a process: signals, the stats port, exit status.

SIGTERM and SIGINT start a graceful shutdown (see :mod:`lifecycle`); a second
signal cancels at once. ``serve_stats`` answers each connection to the stats
port with one JSON line of the server's counters, so the lab harness can read
them across containers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable

import trio

from services.runtime.counters import Counters
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import log_event

STATS_SEND_TIMEOUT = 2.0


async def shutdown_on_signals(
    lifecycle: Lifecycle,
    logger: logging.Logger,
    cancel_scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """First SIGTERM/SIGINT drains gracefully; a second one cancels ``cancel_scope``."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        async for signum in signals:
            name = signal.Signals(signum).name
            if lifecycle.is_draining:
                log_event(logger, "signal-force", signal=name, level=logging.WARNING)
                cancel_scope.cancel()
                return
            log_event(logger, "signal", signal=name)
            lifecycle.request_shutdown(name)


async def serve_stats(
    counters: Counters,
    *,
    host: str,
    port: int,
    logger: logging.Logger,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve one JSON line of ``counters.snapshot()`` per connection."""

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            with trio.move_on_after(STATS_SEND_TIMEOUT):
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await stream.send_all(json.dumps(counters.snapshot()).encode() + b"\n")

    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    log_event(logger, "stats-listening", host=host, port=bound)
    task_status.started(bound)
    await trio.serve_listeners(answer, listeners)


async def run_server(
    serve_fn: Callable[..., Awaitable[None]],
    *,
    lifecycle: Lifecycle,
    counters: Counters,
    logger: logging.Logger,
    stats_host: str,
    stats_port: int | None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``serve_fn(task_status=...)`` with signal handling and optional stats port.

    Reports the served port through ``task_status``; returns when the server
    has shut down, so the process can exit 0.
    """
    async with trio.open_nursery() as nursery:
        await nursery.start(shutdown_on_signals, lifecycle, logger, nursery.cancel_scope)
        if stats_port is not None:
            await nursery.start(
                lambda task_status: serve_stats(
                    counters, host=stats_host, port=stats_port, logger=logger,
                    task_status=task_status,
                )
            )
        port = await nursery.start(serve_fn)
        task_status.started(port)
        await lifecycle.stopped.wait()
        nursery.cancel_scope.cancel()
