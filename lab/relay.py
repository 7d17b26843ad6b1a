"""Relay two Trio streams to each other, byte for byte, both ways, as if they were one connection.

The relay is meant to be invisible: bytes are forwarded as they come (no
framing, no buffering beyond one chunk per direction, so back-pressure reaches
the sender), a FIN from one side becomes a FIN to the other (half-close), and
a reset from one side becomes a reset of the other (SO_LINGER 0), so that
programs see through the relay what they would see directly. The side that
reset is named in the result (``client-reset``, ``upstream-reset``).

Each direction passes every chunk through its :data:`Pipe`: the seam where
the lab's fault proxy puts its toxics (latency, bandwidth, cuts; model:
toxiproxy's ``Pipe``). The default, :func:`pass_through`, forwards the chunk
unchanged. A pipe may send a chunk in pieces, later, changed, or not at all;
it must not reorder chunks (the relay hands it the next one only once it has
returned). At EOF its direction's :data:`Flush` runs before the FIN is
passed on: where a pipe sends what it still holds, or delays the close.

A side that leaves our bytes unread for ``send_timeout`` ends the relay
(``client-send-timeout``, ``upstream-send-timeout``): both connections are
reset, so a client that never reads cannot hold the gateway's buffers and
its upstream's connection forever.

Resource handling: both streams belong to the caller, who closes them after
:func:`relay` returns; after a reset they are set to reset on that close.
Error handling: every transport error ends the relay and is reported in the
returned :class:`RelayResult`; nothing is raised for the peers' behaviour.
"""

from __future__ import annotations

import contextlib
import math
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import trio

CHUNK = 64 * 1024

Send = Callable[[bytes], Awaitable[None]]
Pipe = Callable[[bytes, Send], Awaitable[None]]
"""``pipe(chunk, send)``: what one direction does with one chunk it received."""
Flush = Callable[[Send], Awaitable[None]]
"""``flush(send)``: what one direction does at EOF, before the FIN is passed on."""


async def pass_through(chunk: bytes, send: Send) -> None:
    """The pipe of a plain relay: forward the chunk as it is."""
    await send(chunk)


async def no_flush(send: Send) -> None:
    """The flush of a plain relay: nothing held, the FIN goes at once."""



@dataclass
class RelayResult:
    """How a relay ended: bytes delivered each way and why.

    ``reason``: ``done`` (both sides sent EOF), ``client-reset`` or
    ``upstream-reset``, ``client-send-timeout`` or ``upstream-send-timeout``
    (that side did not read), ``idle-timeout``, or ``closed`` (a stream was
    closed under the relay).
    """

    bytes_up: int = 0
    bytes_down: int = 0
    reason: str = "done"


def reset_on_close(stream: trio.abc.Stream) -> None:
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
        send_timeout: float,
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.idle_timeout = idle_timeout
        self.send_timeout = send_timeout
        self.result = RelayResult()
        self.last_activity = trio.current_time()

    async def pump(
        self, pipe: Pipe, flush: Flush, *, upward: bool, scope: trio.CancelScope
    ) -> None:
        """Move one direction's chunks through ``pipe`` until EOF (passed on) or an error."""
        source, sink = (self.client, self.upstream) if upward else (self.upstream, self.client)
        source_side, sink_side = ("client", "upstream") if upward else ("upstream", "client")
        side = source_side  # who is to blame if the current call fails

        async def send(chunk: bytes) -> None:
            nonlocal side
            side = sink_side
            with trio.move_on_after(self.send_timeout) as sending:
                await sink.send_all(chunk)
            if sending.cancelled_caught:
                self._fail(f"{sink_side}-send-timeout", scope, reset=True)
                await trio.lowlevel.checkpoint()  # the scope's cancel ends this pump here
            side = source_side
            if upward:
                self.result.bytes_up += len(chunk)
            else:
                self.result.bytes_down += len(chunk)

        try:
            while data := await source.receive_some(CHUNK):
                self.last_activity = trio.current_time()
                await pipe(bytes(data), send)  # no copy: sockets return bytes
            await flush(send)
        except trio.BrokenResourceError:
            self._fail(f"{side}-reset", scope, reset=True)
            return
        except trio.ClosedResourceError:
            self._fail("closed", scope, reset=False)
            return
        try:
            await sink.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            scope.cancel()

    def _fail(self, reason: str, scope: trio.CancelScope, *, reset: bool) -> None:
        if self.result.reason == "done":  # the first failure is the story
            self.result.reason = reason
        if reset:  # pass one side's reset on to the other
            reset_on_close(self.client)
            reset_on_close(self.upstream)
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
    send_timeout: float = math.inf,
    upward: Pipe = pass_through,
    downward: Pipe = pass_through,
    upward_flush: Flush = no_flush,
    downward_flush: Flush = no_flush,
) -> RelayResult:
    """Relay until both sides have sent EOF, one resets, or nothing moves for ``idle_timeout``.

    A chunk one side does not accept within ``send_timeout`` ends it too.

    ``upward`` carries the client's chunks to the upstream, ``downward`` the
    upstream's to the client; ``upward_flush`` and ``downward_flush`` run at
    each direction's EOF.
    """
    state = _Relay(client, upstream, idle_timeout, send_timeout)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(state.watchdog, nursery.cancel_scope)
        pumps = trio.CancelScope()
        with pumps:
            async with trio.open_nursery() as both:
                both.start_soon(partial(state.pump, upward, upward_flush,
                                        upward=True, scope=pumps))
                both.start_soon(partial(state.pump, downward, downward_flush,
                                        upward=False, scope=pumps))
        nursery.cancel_scope.cancel()
    return state.result
