"""Telling a netlab client from a tutorial client by its first bytes, with a bounded wait.

:func:`read_preface` waits for enough bytes to decide (see
:mod:`services.wire.preface`); :class:`SniffingServer` is the skeleton of a
two-mode server (exec, upload) that hands each connection to the session of
its mode. Chat tells three kinds of client apart and has its own detector.

Error handling: a peer that never speaks is bounded by the idle timeout
(:class:`~services.runtime.errors.PeerTimeout`, logged by the server's
``handle``); shutdown cuts the wait short and the connection closes without
a word. A NUL followed by anything but this service's preface is a
``bad-preface``: counted, logged, and answered with the service's error frame.
"""

from __future__ import annotations

import logging
from abc import abstractmethod

from services.runtime.connection import PeerConnection
from services.runtime.context import ConfigT
from services.runtime.idle import IdleWaits
from services.runtime.logs import log_event
from services.runtime.server import ContextT, Server
from services.wire.errors import RemoteProtocolError
from services.wire.preface import Sniff, sniff

SNIFF_SIZE = 64 * 1024


async def read_preface(
    conn: PeerConnection, service: str, idle_waits: IdleWaits, *, timeout: float | None = None
) -> tuple[Sniff, bytes]:
    """The mode and the bytes after the preface; NEED_DATA if the peer left or shutdown came first.

    Each receive waits at most ``timeout`` (default: the idle timeout).
    Raises ``bad-preface`` (:class:`RemoteProtocolError`).
    """
    data = b""
    while True:
        with idle_waits.idle() as scope:  # shutdown drops connections that have not spoken
            chunk = await conn.receive(SNIFF_SIZE, timeout=timeout)
        if scope.cancelled_caught or not chunk:
            return Sniff.NEED_DATA, b""
        data += chunk
        mode, consumed = sniff(data, service)
        if mode is not Sniff.NEED_DATA:
            return mode, data[consumed:]


class SniffingServer(Server[ConfigT, ContextT]):
    """A server with a netlab mode and a classic mode on one port."""

    @abstractmethod
    def error_frame(self, code: str, message: str) -> bytes:
        """The service's ERROR frame, sent outside a conversation (bad preface, server full)."""

    @abstractmethod
    async def serve_netlab(self, conn: PeerConnection, rest: bytes) -> None:
        """Serve a netlab client; ``rest`` is what followed its preface."""

    @abstractmethod
    async def serve_classic(self, conn: PeerConnection, first: bytes) -> None:
        """Serve a tutorial client; ``first`` is all it has sent so far."""

    async def serve_connection(self, conn: PeerConnection) -> None:
        try:
            mode, rest = await read_preface(conn, self.service, self.idle_waits)
        except RemoteProtocolError as exc:
            self.counters.error(exc.code)
            log_event(self.logger, "protocol-error", level=logging.WARNING, peer=conn.peer,
                      code=exc.code, error=exc.message)
            conn.send_nowait(self.error_frame(exc.code, exc.message))
            return
        if mode is Sniff.NETLAB:
            await self.serve_netlab(conn, rest)
        elif mode is Sniff.OTHER:
            await self.serve_classic(conn, rest)
