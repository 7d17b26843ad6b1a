"""Serving one tutorial client (classic mode): ``NAME|SIZE`` + bytes → ``true``.

Same name rules and atomic storage as netlab mode, through the same
:class:`Store`; what classic mode lacks is on the wire: there is no hash to
verify and no resume, so a classic upload cut short is deleted.

A classic upload of a stored name replaces it atomically, as the tutorial's
server does (``--classic-overwrite``, the default); with
``--no-classic-overwrite`` it is refused with ``exists``.

Replies: ``true`` when the file is stored (synced and renamed). On a refusal
the tutorial client, which cannot be told why, gets ``false``, and the log
line ``event=refused ... reply=false`` says why (``docker compose logs
upload`` in the lab): if SIZE is
within the per-file limit the server first reads and discards the SIZE bytes
the client is sending anyway, so the connection carries on with the next
file; if SIZE is over the limit (or the header is malformed) it replies
``false`` and closes, rather than swallow gigabytes. Either way nothing is
written under the final name.

Header boundaries: the server lets the kernel delay its ACK while a header is
due and acknowledges at once when it is read (:mod:`services.runtime.acks`),
so the tutorial's client, with Nagle on, sends its header alone and a file
whose bytes start with a digit is stored right. A header that arrives glued to
more bytes anyway is counted as ``classic_glued_header`` (see
:mod:`services.upload.classic` for what that can misparse).

Handshake: the first header must be complete within ``handshake_timeout``
seconds of the client's first byte, however slowly it trickles in; else the
connection is closed without a word (the tutorial's client could not read
one) and counted as ``handshake-timeout``. Later headers wait up to
``idle_timeout`` for each receive.
"""

from __future__ import annotations

import logging

import trio

from services.runtime.acks import ack_now, delay_acks
from services.runtime.connection import PeerConnection
from services.runtime.errors import PeerTimeout
from services.runtime.logs import log_event
from services.upload.classic import FALSE, TRUE, ClassicDecoder, ClassicEvent, ClassicHeader
from services.upload.context import ServerContext
from services.upload.events import Data, UploadErrorCode
from services.upload.pace import UploadPace
from services.upload.partial import CommitError
from services.upload.sink import Feed, open_sink
from services.upload.storage import Refused
from services.wire.errors import RemoteProtocolError
from services.wire.sentinels import Closed


class ClassicSession:
    """One tutorial client: several files, one after another."""

    def __init__(self, ctx: ServerContext, conn: PeerConnection) -> None:
        self.ctx = ctx
        self.conn = conn
        self.decoder = ClassicDecoder()

    def _log(self, event: str, *, level: int = logging.INFO, **fields: object) -> None:
        log_event(self.ctx.logger, event, level=level, peer=self.conn.peer, mode="classic",
                  **fields)

    async def run(self, initial: bytes) -> None:
        if initial:  # b"" would mean EOF
            self.decoder.receive_data(initial)
        try:
            await self._serve_files()
        except RemoteProtocolError as exc:
            # The tutorial's client has no way to read an explanation: close.
            self.ctx.counters.error(exc.code)
            self._log("protocol-error", level=logging.WARNING, code=exc.code, error=exc.message)

    async def _serve_files(self) -> None:
        # One deadline for the whole first header (see ``ctx.next_request``).
        handshake: float | None = trio.current_time() + self.ctx.config.handshake_timeout
        while not self.ctx.lifecycle.is_draining:
            event: ClassicEvent | Closed | None = None
            with self.ctx.idle_waits.idle():
                # Between files: drain ends the session.
                event = await self.ctx.next_request(
                    self.conn, self.decoder, handshake, "NAME|SIZE header")
            handshake = None  # later headers: the idle timeout alone
            if not isinstance(event, ClassicHeader):
                return  # CLOSED, or interrupted by draining
            ack_now(self.conn.stream)  # releases the client's data, held by Nagle until now
            if event.glued:
                self.ctx.count("classic_glued_header")
                self._log("glued-header", name=event.raw_name, size=event.size)
            if not await self._upload(event):
                return

    async def _next(self) -> ClassicEvent | Closed:
        return await self.conn.next_event(self.decoder, self.ctx.config.receive_size)

    async def _upload(self, header: ClassicHeader) -> bool:
        """Store one file; False if the connection must end."""
        ctx = self.ctx
        try:
            try:
                name = header.raw_name.decode("utf-8")
            except UnicodeDecodeError:
                raise Refused(UploadErrorCode.BAD_NAME, "name is not UTF-8") from None
            if ctx.lifecycle.is_draining:
                raise Refused(UploadErrorCode.SHUTTING_DOWN, "server is shutting down")
            partial = await ctx.store.begin(name, header.size, "", overwrite=False,
                                            classic=True)
        except Refused as exc:
            ctx.count("uploads_refused")
            ctx.count(f"classic_refused_{exc.code.replace('-', '_')}")
            self._log("refused", level=logging.WARNING, code=exc.code, error=exc.message,
                      name=header.raw_name, size=header.size, reply="false")
            if header.size > ctx.config.max_file_size:
                self.conn.send_nowait(FALSE)
                return False
            await self._discard_file()
            await self._reply(FALSE)
            return True
        self._log("upload-start", name=partial.final.name, size=header.size)
        stored: bool | None = False
        try:
            async with open_sink(ctx.store.writers(partial)) as feed:
                too_slow = await self._receive_file(feed, header.size)
            if too_slow is not None:  # raised once the sink is closed: no write left behind
                raise too_slow
            await ctx.store.commit(partial)
            stored = True
        except CommitError as exc:  # a name stored meanwhile ("exists")
            stored = None  # answered: neither stored nor interrupted
            ctx.count("uploads_failed")
            self._log("refused", level=logging.WARNING, code=exc.code, error=exc.message,
                      name=partial.final.name, reply="false")
            await self._reply(FALSE)
            return True
        finally:
            with trio.CancelScope(shield=True):
                await ctx.store.release(partial, keep=False)  # no-op once committed
            if stored is False:
                self._log("upload-interrupted", level=logging.WARNING,
                          name=partial.final.name, received=partial.received, size=header.size)
        ctx.count("files_stored")
        ctx.count("classic_files_stored")
        ctx.count("bytes_stored", header.size)
        self._log("stored", name=partial.final.name, size=header.size)
        await self._reply(TRUE)
        return True

    async def _receive_file(
        self, feed: Feed, size: int
    ) -> PeerTimeout | None:
        """Feed the file's bytes to the sink until its end; the timeout that cut it, if any.

        Paced as netlab uploads are (:class:`UploadPace`): a client silent for
        ``data_timeout``, or averaging less than ``min_rate``, gives its slot
        back. The tutorial's client cannot read why: the connection closes and
        the server's log and counters say it.
        """
        config = self.ctx.config
        pace = UploadPace(data_timeout=config.data_timeout, min_rate=config.min_rate, due=size)
        while True:
            event = await self.ctx.paced_event(self.conn, self.decoder, pace)
            if isinstance(event, PeerTimeout):
                return event
            if not isinstance(event, Data):
                return None  # the file's end
            pace.received += len(event.data)
            await feed(event.data)

    async def _reply(self, answer: bytes) -> None:
        """``true``/``false``; the next header's ACK may wait, so that header arrives alone."""
        delay_acks(self.conn.stream)  # before the reply: the client sends only after reading it
        await self.conn.send(answer)

    async def _discard_file(self) -> None:
        while isinstance(await self._next(), Data):
            pass

