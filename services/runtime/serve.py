"""Accept connections and run one handler task each, with limits and graceful shutdown.

Modelled on trio's ``_highlevel_serve_listeners.py``.

Every accepted socket gets its keepalive here (``config.keepalive``, see
:mod:`services.runtime.keepalive`), before its handler starts: so every
server, and the gateway, learns of a peer that vanished without a FIN.

Resource handling: every accepted stream is owned by its handler task and
closed when the handler returns, whatever happened. ``serve`` owns the
listeners and closes them as soon as shutdown starts.

Error handling: handlers are expected to catch their own errors; anything that
escapes is logged as ``handler-crash`` and counted, and never takes the server
down. ``accept`` errors caused by resource exhaustion (EMFILE and friends) are
logged and retried after a pause, as trio does.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from services.runtime.config import ServerConfig
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.errors import RuntimeFailure
from services.runtime.flusher import Flusher
from services.runtime.keepalive import set_keepalive
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import log_event

ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
SLEEP_ON_CAPACITY_ERROR = 0.1
REFUSE_TIMEOUT = 2.0

Handler = Callable[[PeerConnection], Awaitable[None]]
Refuser = Callable[[PeerConnection], Awaitable[None]]
ListenerSetup = Callable[[trio.SocketListener], object]


@dataclass
class Slots:
    """How many connections one ``serve`` call holds, and may hold, at once.

    Not ``counters.connections_open``: the gateway runs one ``serve`` per
    route with shared counters, and idle connections on one route must not
    lock clients out of another.
    """

    limit: int
    taken: int = 0

    @property
    def full(self) -> bool:
        return self.taken >= self.limit


async def serve(
    handler: Handler,
    config: ServerConfig,
    *,
    counters: Counters,
    lifecycle: Lifecycle,
    logger: logging.Logger,
    refuse: Refuser | None = None,
    setup_listener: ListenerSetup | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on ``config.host:config.port`` until ``lifecycle`` drains.

    Reports the bound port through ``task_status`` (use port 0 in tests).
    Past ``config.max_clients`` open connections a new one is passed to
    ``refuse`` (which may send a reason) and closed. ``setup_listener`` may
    set socket options every accepted connection inherits. The limit holds
    for this call's connections alone, even when several ``serve`` calls
    share ``counters`` (the gateway's routes). Returns once every connection
    has ended or the grace period has run out.
    """
    slots = Slots(config.max_clients)
    listeners = await trio.open_tcp_listeners(config.port, host=config.host)
    if setup_listener is not None:
        for listener in listeners:
            setup_listener(listener)
    port = listeners[0].socket.getsockname()[1]
    log_event(logger, "listening", host=config.host, port=port)
    async with trio.open_nursery() as connections:
        # Handlers, the connections' writes and their writers all run in `connections`.
        flusher = Flusher(connections)
        async with trio.open_nursery() as acceptors:
            for listener in listeners:
                acceptors.start_soon(
                    _accept_loop, listener, flusher, handler, refuse, config, counters, logger,
                    slots,
                )
            task_status.started(port)
            await lifecycle.draining.wait()
            acceptors.cancel_scope.cancel()
        for listener in listeners:
            await trio.aclose_forcefully(listener)
        log_event(
            logger,
            "draining",
            reason=lifecycle.reason,
            open=counters.connections_open,
            grace=config.grace_period,
        )
        connections.cancel_scope.deadline = trio.current_time() + config.grace_period
    if connections.cancel_scope.cancelled_caught:
        log_event(logger, "grace-expired", level=logging.WARNING)
    log_event(logger, "stopped", **counters.snapshot())
    lifecycle.stopped.set()


async def _accept_loop(
    listener: trio.SocketListener,
    flusher: Flusher,
    handler: Handler,
    refuse: Refuser | None,
    config: ServerConfig,
    counters: Counters,
    logger: logging.Logger,
    slots: Slots,
) -> None:
    connections = flusher.nursery
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                    raise
                counters.error("accept-capacity")
                log_event(logger, "accept-error", level=logging.ERROR, error=exc.strerror)
                await trio.sleep(SLEEP_ON_CAPACITY_ERROR)
                continue
            set_keepalive(stream.socket, config.keepalive)
            conn = PeerConnection(stream, config=config, counters=counters, logger=logger,
                                  flusher=flusher)
            if slots.full:
                counters.connections_refused += 1
                log_event(logger, "refused", peer=conn.peer, reason="max-clients")
                connections.start_soon(_refuse, conn, refuse)
            else:
                # Counted here, not in the task, so a burst cannot overshoot the limit.
                slots.taken += 1
                counters.connections_open += 1
                connections.start_soon(_run_handler, conn, handler, counters, logger, slots)


async def _refuse(conn: PeerConnection, refuse: Refuser | None) -> None:
    try:
        if refuse is not None:
            with trio.move_on_after(REFUSE_TIMEOUT):
                await refuse(conn)
    except (RuntimeFailure, trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await conn.aclose()


async def _run_handler(
    conn: PeerConnection, handler: Handler, counters: Counters, logger: logging.Logger,
    slots: Slots,
) -> None:
    counters.connections_total += 1
    counters.tasks_open += 1
    log_event(logger, "connect", peer=conn.peer)
    try:
        await handler(conn)
    except Exception as exc:
        counters.error("handler-crash")
        logger.exception("event=handler-crash peer=%s error=%r", conn.peer, exc)
    finally:
        slots.taken -= 1
        counters.connections_open -= 1
        counters.tasks_open -= 1
        await conn.aclose()
        log_event(
            logger,
            "disconnect",
            peer=conn.peer,
            reason=conn.failure.reason if conn.failure else "done",
        )
