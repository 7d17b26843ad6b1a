"""Why a command must end, first reason first; and the commands a shutdown ends.

A :class:`Stopper` records the first reason (the shell exited, the time
limit, the output cap, CANCEL, the client leaving, shutdown). The task
running the command waits for the shell's exit inside the stopper's cancel
scope, so any other reason cancels that wait at once: no task per reason
and no event between the reason and the reaction.

:class:`RunningCommands` holds the stoppers of the commands running now, so
one task of the server (:meth:`RunningCommands.stop_at_shutdown`) ends them
all when shutdown leaves them no more time, instead of a watcher per command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import trio

from services.remote_exec.outcome import Stop
from services.runtime.lifecycle import Lifecycle


class Stopper:
    """The first reason to end a command; stopping cancels the wait for its exit."""

    def __init__(self) -> None:
        self.reason: Stop | None = None
        self._scope: trio.CancelScope | None = None

    def stop(self, reason: Stop) -> None:
        if self.reason is None:
            self.reason = reason
            if self._scope is not None:
                self._scope.cancel()

    @contextmanager
    def cancels(self, scope: trio.CancelScope) -> Iterator[None]:
        """While the block runs, a reason to stop cancels ``scope`` (at once if one exists)."""
        self._scope = scope
        if self.reason is not None:
            scope.cancel()
        try:
            yield
        finally:
            self._scope = None


class RunningCommands:
    """The stoppers of the commands running now; shutdown stops them all."""

    def __init__(self) -> None:
        self._stoppers: set[Stopper] = set()
        self.stopped = False  # shutdown has ended every command (a late one ends at once)

    def __len__(self) -> int:
        return len(self._stoppers)

    @contextmanager
    def running(self, stopper: Stopper) -> Iterator[None]:
        """Count the command as running for the block."""
        self._stoppers.add(stopper)
        if self.stopped:
            stopper.stop(Stop.SHUTDOWN)
        try:
            yield
        finally:
            self._stoppers.discard(stopper)

    def stop_all(self) -> None:
        self.stopped = True
        for stopper in list(self._stoppers):
            stopper.stop(Stop.SHUTDOWN)

    async def stop_at_shutdown(self, lifecycle: Lifecycle, delay: float) -> None:
        """Once shutdown starts, give the running commands ``delay`` s, then stop them."""
        await lifecycle.draining.wait()
        await trio.sleep(delay)
        self.stop_all()
