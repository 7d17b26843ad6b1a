"""Interrupting a connection's idle waits when the server starts shutting down.

A connection waiting for its client's next request (or for a command slot)
has nothing in flight, so shutdown can end it at once; a running command
instead gets the grace period (see :mod:`services.remote_exec.runner`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import trio

from services.runtime.lifecycle import Lifecycle


class IdleWaits:
    """Cancel scopes of the waits that shutdown may cut short."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self._scopes: set[trio.CancelScope] = set()

    @contextmanager
    def idle(self) -> Iterator[trio.CancelScope]:
        """A scope cancelled when shutdown starts (at once if it already has)."""
        scope = trio.CancelScope()
        if self.lifecycle.is_draining:
            scope.cancel()
        self._scopes.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._scopes.discard(scope)

    async def watch(self) -> None:
        """Run for the connection's lifetime: cancel the idle waits on shutdown."""
        await self.lifecycle.draining.wait()
        for scope in list(self._scopes):
            scope.cancel()
