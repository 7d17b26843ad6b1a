"""The server skeleton every netlab service stands on: construction, ``run``, per-connection errors.

A service's server subclasses :class:`Server` and writes only what differs:
its context type, what one connection does (:meth:`Server.serve_connection`),
what a client past ``max_clients`` is told (:meth:`Server.refuse`), and
optionally what runs before serving (:meth:`Server.prepare`) and beside it
(:meth:`Server.background`). Exec and upload tell their two modes apart by
the netlab preface: see :class:`services.runtime.sniff.SniffingServer`.

Resource handling: ``run`` owns the server's background tasks (the idle-wait
watcher and the service's own) and cancels them once ``serve`` has returned,
that is once every connection has ended or the grace period has run out.

Error handling: a connection's transport failure (:class:`RuntimeFailure`:
reset, timeout, slow consumer) is counted under its reason and logged as
``connection-error``; an ``OSError`` escaping a session (a failing disk) is
counted and logged as ``io-error``. Neither reaches ``serve`` or another
connection. Failures a service expects as normal (chat: a client resetting)
are listed in :attr:`Server.uncounted` and only logged.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import trio

from services.runtime.connection import PeerConnection
from services.runtime.context import ConfigT, ServiceContext
from services.runtime.counters import Counters
from services.runtime.errors import RuntimeFailure, leaves
from services.runtime.idle import IdleWaits
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import get_logger, log_event
from services.runtime.serve import serve

ContextT = TypeVar("ContextT", bound=ServiceContext[Any])

Task = Callable[[], Awaitable[None]]


class Server(ABC, Generic[ConfigT, ContextT]):
    """One server of one service; ``run`` serves until its lifecycle has drained."""

    service: ClassVar[str]
    context_type: type[ContextT]
    uncounted: ClassVar[tuple[type[RuntimeFailure], ...]] = ()

    def __init__(
        self,
        config: ConfigT,
        *,
        counters: Counters | None = None,
        lifecycle: Lifecycle | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = config
        self.counters = counters or Counters()
        self.lifecycle = lifecycle or Lifecycle()
        self.logger = logger or get_logger(self.service)
        self.idle_waits = IdleWaits(self.lifecycle)
        self.ctx: ContextT = self.context_type(
            config=config, counters=self.counters, lifecycle=self.lifecycle,
            logger=self.logger, idle_waits=self.idle_waits,
        )

    async def prepare(self) -> None:
        """Before listening: open what the service needs, log its settings."""

    def background(self) -> Sequence[Task]:
        """Tasks that run beside the listener for the server's lifetime."""
        return ()

    def setup_listener(self, listener: trio.SocketListener) -> None:
        """Socket options for a listening socket, inherited by what it accepts; default none."""

    async def refuse(self, conn: PeerConnection) -> None:
        """Past ``max_clients``: tell the client why (bounded by ``serve``); default silence."""

    @abstractmethod
    async def serve_connection(self, conn: PeerConnection) -> None:
        """Serve one connection inside its session; transport failures may propagate."""

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on ``config.port``; report the bound port; return after shutdown."""
        await self.prepare()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.idle_waits.watch)
            for task in self.background():
                nursery.start_soon(task)
            await serve(self.handle, self.config, counters=self.counters,
                        lifecycle=self.lifecycle, logger=self.logger, refuse=self.refuse,
                        setup_listener=self.setup_listener, task_status=task_status)
            nursery.cancel_scope.cancel()

    async def handle(self, conn: PeerConnection) -> None:
        """Run one connection's session; count and log how it failed, if it did."""
        try:
            try:
                async with conn.session():
                    await self.serve_connection(conn)
            except ExceptionGroup as group:
                # A reset seen by two of the session's tasks at once (its reader
                # and a sender woken by the writer's failure) arrives as a group
                # of transport failures: one story, told once.
                raise transport_failure(group) from None
        except RuntimeFailure as exc:
            if not isinstance(exc, self.uncounted):
                self.counters.error(exc.reason)
            log_event(self.logger, "connection-error", peer=conn.peer, reason=exc.reason,
                      error=exc)
        except OSError as exc:
            self.counters.error("io-error")
            log_event(self.logger, "io-error", level=logging.ERROR, peer=conn.peer, error=exc)


def transport_failure(group: ExceptionGroup[Exception]) -> Exception:
    """The first leaf of ``group`` if every leaf is a :class:`RuntimeFailure`, else ``group``."""
    found = list(leaves(group))
    failures = [leaf for leaf in found if isinstance(leaf, RuntimeFailure)]
    return failures[0] if found and len(failures) == len(found) else group
