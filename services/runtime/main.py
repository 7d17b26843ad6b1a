"""Running a server as a process: ``main(config, Server)``, signals, the stats port, exit status.

Every netlab server process (chat, exec, upload, the lab's gateway) goes
through :func:`main`: the CLI builds one frozen config and hands it here with
the server class, nothing else.

SIGTERM and SIGINT start a graceful shutdown (see :mod:`lifecycle`); a second
signal cancels at once. ``serve_stats`` answers each connection to the stats
port with one JSON line of the server's counters, so the lab harness can read
them across containers.

Resource handling: :func:`run_server` owns the signal receiver and the stats
listener; both end when the server's ``run`` returns, not before (a server
may drain after its lifecycle says ``stopped``).

Error handling: an ``OSError`` escaping the server (its port is taken) ends
:func:`main` with exit status 1 and one line, logged and on stderr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import resource
import signal
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import trio

from services.runtime.config import ServerConfig
from services.runtime.context import ConfigT
from services.runtime.counters import Counters
from services.runtime.errors import leaves
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import configure_logging, log_event
from services.runtime.options import USAGE_ERROR

SERVER_EXIT_STATUSES = {
    "0": "stopped by SIGTERM or SIGINT, after a graceful shutdown",
    "1": "could not serve (its port is taken, its address is not this machine's...)",
    **USAGE_ERROR,
}
"""What every ``serve`` command exits with (its ``--help`` and docs/reference/cli.md list them)."""

STATS_SEND_TIMEOUT = 2.0
SPARE_FDS = 64
"""Descriptors a server needs besides one per client: listeners, logs, pipes, files."""


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


class RunnableServer(Protocol):
    """What :func:`main` runs: a server's ``run``, and what it shares with the signals and stats.

    Every :class:`services.runtime.server.Server` is one; so is the lab's gateway.
    """

    counters: Counters
    lifecycle: Lifecycle
    logger: logging.Logger

    async def run(self, *, task_status: trio.TaskStatus[Any] = ...) -> None:
        """Serve until the lifecycle has drained; report the bound port(s) when listening."""


async def run_server(
    server: RunnableServer,
    *,
    stats_host: str,
    stats_port: int | None,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``server`` with signal handling and the optional stats port.

    Reports what ``server.run`` reports (its port) through ``task_status``;
    returns when the server has shut down, so the process can exit 0.
    """
    async with trio.open_nursery() as nursery:
        await nursery.start(
            shutdown_on_signals, server.lifecycle, server.logger, nursery.cancel_scope
        )
        if stats_port is not None:
            await nursery.start(partial(
                serve_stats, server.counters, host=stats_host, port=stats_port,
                logger=server.logger,
            ))
        port = await nursery.start(_run_then_stop, server, nursery.cancel_scope)
        task_status.started(port)


async def _run_then_stop(
    server: RunnableServer,
    helpers: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    # The server has stopped when ``run`` returns (a gateway serves several
    # listeners, each setting ``stopped``); only then do signals and stats go.
    await server.run(task_status=task_status)
    helpers.cancel()


def raise_nofile() -> int:
    """Raise the soft open-files limit to the hard one; the limit now in force.

    Each client holds a descriptor, and the usual soft limit (1024) is far
    below ``max_clients``; the hard limit is what the operator (or compose's
    ``ulimits``) allows.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard
        if hard == resource.RLIM_INFINITY:  # Linux refuses an infinite soft NOFILE
            target = max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):
            return soft
        return target
    return soft


def log_nofile(config: ServerConfig, logger: logging.Logger) -> None:
    """Raise the open-files limit; log it, with a warning if ``max_clients`` cannot fit."""
    limit = raise_nofile()
    needed = config.max_clients + SPARE_FDS
    if limit < needed:
        log_event(logger, "nofile-too-low", level=logging.WARNING, limit=limit,
                  max_clients=config.max_clients, needed=needed,
                  note="clients past the limit are refused at accept")
    else:
        log_event(logger, "nofile", limit=limit, max_clients=config.max_clients)


def main(config: ConfigT, server_class: Callable[[ConfigT], RunnableServer]) -> None:
    """Run one server as this process until SIGTERM/SIGINT; exit 0 after a graceful shutdown.

    Configures logging, builds the server from ``config`` and runs it with
    :func:`run_server`. A server that cannot start (its port is taken) exits 1
    with one line on stderr, not a traceback.
    """
    configure_logging(config.log_level)
    server = server_class(config)
    log_nofile(config, server.logger)
    try:
        trio.run(partial(run_server, server, stats_host=config.host, stats_port=config.stats_port))
    except* OSError as failures:
        reasons = "; ".join(str(exc) for exc in leaves(failures))
        log_event(server.logger, "start-failed", level=logging.ERROR, error=reasons)
        sys.exit(f"netlab: cannot serve: {reasons}")
    sys.stdout.flush()  # the console's and the banner's last lines
