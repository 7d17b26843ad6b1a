"""Relay one client connection to its upstream, byte for byte, both ways.

The gateway is meant to be invisible: bytes are forwarded as they come (no
framing, no buffering beyond one chunk per direction, so back-pressure reaches
the sender), a FIN from one side becomes a FIN to the other (half-close), and
a reset from one side becomes a reset of the other (SO_LINGER 0), so that
learners' programs see through the gateway what they would see directly.

Resource handling: the upstream stream is owned here and closed on return; the
client stream belongs to the caller. Error handling: every transport error
ends the relay and is reported in the returned :class:`RelayResult`; nothing
is raised for the peers' behaviour.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from dataclasses import dataclass

import trio

CHUNK = 64 * 1024


@dataclass
class RelayResult:
    """How a relay ended: bytes each way and why."""

    bytes_up: int = 0
    bytes_down: int = 0
    reason: str = "done"


def _reset_on_close(stream: trio.abc.Stream) -> None:
    """Make the next close send RST instead of FIN (SO_LINGER with timeout 0)."""
    sock = getattr(stream, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _Relay:
    def __init__(
        self,
        client: trio.abc.HalfCloseableStream,
        upstream: trio.abc.HalfCloseableStream,
        idle_timeout: float,
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.idle_timeout = idle_timeout
        self.result = RelayResult()
        self.last_activity = trio.current_time()

    async def pump(
        self,
        source: trio.abc.HalfCloseableStream,
        sink: trio.abc.HalfCloseableStream,
        *,
        upward: bool,
        scope: trio.CancelScope,
    ) -> None:
        source_side, sink_side = ("client", "upstream") if upward else ("upstream", "client")
        while True:
            side = source_side
            try:
                data = await source.receive_some(CHUNK)
                if not data:
                    break
                self.last_activity = trio.current_time()
                side = sink_side
                await sink.send_all(data)
            except trio.BrokenResourceError:
                # One side reset: pass the reset on to the other.
                self._fail(f"{side}-reset", scope, reset=True)
                return
            except trio.ClosedResourceError:
                self._fail("closed", scope, reset=False)
                return
            if upward:
                self.result.bytes_up += len(data)
            else:
                self.result.bytes_down += len(data)
        try:
            await sink.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            scope.cancel()

    def _fail(self, reason: str, scope: trio.CancelScope, *, reset: bool) -> None:
        if self.result.reason == "done":  # the first failure is the story
            self.result.reason = reason
        if reset:
            _reset_on_close(self.client)
            _reset_on_close(self.upstream)
        scope.cancel()

    async def watchdog(self, scope: trio.CancelScope) -> None:
        while True:
            deadline = self.last_activity + self.idle_timeout
            if trio.current_time() >= deadline:
                self.result.reason = "idle-timeout"
                scope.cancel()
                return
            await trio.sleep_until(deadline)


async def relay(
    client: trio.abc.HalfCloseableStream,
    upstream: trio.abc.HalfCloseableStream,
    *,
    idle_timeout: float,
) -> RelayResult:
    """Forward until both sides have sent EOF, one resets, or nothing moves for ``idle_timeout``."""
    state = _Relay(client, upstream, idle_timeout)
    async with upstream, trio.open_nursery() as nursery:
        pumps = trio.CancelScope()
        nursery.start_soon(state.watchdog, nursery.cancel_scope)
        with pumps:
            async with trio.open_nursery() as both:
                both.start_soon(
                    lambda: state.pump(client, upstream, upward=True, scope=pumps)
                )
                both.start_soon(
                    lambda: state.pump(upstream, client, upward=False, scope=pumps)
                )
        nursery.cancel_scope.cancel()
    return state.result
