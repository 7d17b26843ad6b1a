"""Telling a netlab client from a tutorial client by its first bytes, with a bounded wait.

:func:`read_preface` waits for enough bytes to decide (see
:mod:`services.wire.preface`); :class:`SniffingServer` is the skeleton of a
two-mode server (exec, upload) that hands each connection to the session of
its mode. Chat tells three kinds of client apart and has its own detector.

Error handling: a peer that sends no first message (a byte of classic text,
or a whole netlab preface) within the handshake timeout is closed
(:class:`~services.runtime.errors.HandshakeTimeout`, counted and logged by
the server's ``handle``), so silent connections cannot hold the server's
slots; shutdown cuts the wait short and the connection closes without a word.
A NUL followed by anything but this service's preface is a ``bad-preface``:
counted, logged, and answered with the service's error frame. First bytes
that look like an HTTP request (:mod:`services.wire.http`) are refused before
any classic processing: answered with an HTTP 400, logged as
``http-refused`` and counted (``refused_http``).
"""

from __future__ import annotations

import logging
import math
from abc import abstractmethod

import trio

from services.runtime.connection import PeerConnection
from services.runtime.context import ConfigT
from services.runtime.errors import HandshakeTimeout
from services.runtime.idle import IdleWaits
from services.runtime.logs import log_event
from services.runtime.server import ContextT, Server
from services.wire.errors import RemoteProtocolError
from services.wire.http import REFUSAL, looks_like_http
from services.wire.preface import Sniff, sniff

SNIFF_SIZE = 64 * 1024


async def read_preface(
    conn: PeerConnection, service: str, idle_waits: IdleWaits, *, timeout: float | None = None
) -> tuple[Sniff, bytes]:
    """The mode and the bytes after the preface; NEED_DATA if the peer left or shutdown came first.

    The whole wait lasts at most ``timeout`` (default: the handshake timeout,
    or the idle timeout if shorter), then raises :class:`HandshakeTimeout`.
    Raises ``bad-preface`` (:class:`RemoteProtocolError`).
    """
    config = conn.config
    limit = min(config.handshake_timeout, config.idle_timeout) if timeout is None else timeout
    data = b""
    with trio.move_on_after(limit) as deadline:
        while True:
            with idle_waits.idle() as scope:  # shutdown drops connections that have not spoken
                chunk = await conn.receive(SNIFF_SIZE, timeout=math.inf)
            if scope.cancelled_caught or not chunk:
                return Sniff.NEED_DATA, b""
            data += chunk
            mode, consumed = sniff(data, service)
            if mode is not Sniff.NEED_DATA:
                return mode, data[consumed:]
    assert deadline.cancelled_caught
    raise HandshakeTimeout(f"no complete first message within {limit:g} s")


def refuse_http(conn: PeerConnection, first: bytes) -> bool:
    """True (and the peer answered, logged, counted) if ``first`` opens an HTTP request.

    For every classic port: called on a peer's first bytes before anything
    acts on them. The caller then closes the connection.
    """
    if not looks_like_http(first):
        return False
    conn.counters.extra["refused_http"] += 1
    log_event(conn.logger, "http-refused", level=logging.WARNING, peer=conn.peer,
              request=first.split(b"\n", 1)[0].rstrip(b"\r")[:80].decode("latin-1"))
    conn.send_nowait(REFUSAL)
    return True


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
        elif mode is Sniff.OTHER and not refuse_http(conn, rest):
            await self.serve_classic(conn, rest)
