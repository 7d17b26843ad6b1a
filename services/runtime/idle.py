"""Idle waits: the waits of a server's connections that shutdown may cut short.

A connection waiting for its client's next request (or its first bytes, or a
command slot) has nothing in flight, so shutdown can end it at once; work in
flight instead gets the grace period (see :mod:`services.runtime.serve`).

One :class:`IdleWaits` serves every connection of a server: a wait costs a
cancel scope in a set, not a task per connection, so idle clients stay cheap.

Resource handling: :meth:`IdleWaits.watch` runs for the server's lifetime
(the server skeleton starts it); each ``idle()`` scope leaves the set when its
block ends, however it ends.
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
        """A scope cancelled when shutdown starts (at once if it already has).

        ``scope.cancelled_caught`` tells the caller the wait was cut short.
        """
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
        """Run for the server's lifetime: cancel every idle wait when shutdown starts."""
        await self.lifecycle.draining.wait()
        for scope in list(self._scopes):
            scope.cancel()
