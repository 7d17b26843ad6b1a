"""What every session of one upload server shares: the runtime context and the store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypeVar

import trio

from services.runtime.connection import PeerConnection
from services.runtime.context import ServiceContext
from services.runtime.errors import HandshakeTimeout, PeerTimeout
from services.upload.config import UploadConfig
from services.upload.memory import TransferMemory
from services.upload.pace import DataTimeout, SlowUpload, UploadPace
from services.upload.storage import Store
from services.wire.sentinels import Closed, EventSource

EventT = TypeVar("EventT")


@dataclass(kw_only=True)
class ServerContext(ServiceContext[UploadConfig]):
    """The runtime's context plus the store (its disk work bounded by ``io_threads``)
    and the downloads' memory budget."""

    store: Store = field(init=False)
    memory: TransferMemory = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store(self.config, limiter=trio.CapacityLimiter(self.config.io_threads))
        self.memory = TransferMemory(self.config.transfer_memory, self.counters)

    async def next_request(
        self, conn: PeerConnection, source: EventSource[EventT], deadline: float | None,
        what: str,
    ) -> EventT | Closed:
        """The next event of ``source``; :class:`HandshakeTimeout` if ``what`` (the first
        request) is not complete by ``deadline``. None: the idle timeout per receive alone.

        One deadline for the whole first request: a per-receive timeout would
        let a client sending a byte now and then hold its connection forever.
        """
        if deadline is None:
            return await conn.next_event(source, self.config.receive_size)
        with trio.move_on_at(deadline):
            return await conn.next_event(source, self.config.receive_size)
        raise HandshakeTimeout(
            f"no complete {what} within {self.config.handshake_timeout:g} s")

    async def paced_event(
        self, conn: PeerConnection, source: EventSource[EventT], pace: UploadPace
    ) -> EventT | Closed | PeerTimeout:
        """The next event of an upload within what ``pace`` allows (both modes).

        Returns, not raises, :class:`DataTimeout` or :class:`SlowUpload` when
        the wait runs out, so the caller can close its sink first. One bound
        for the whole wait (not each receive): the pace decides it.
        """
        limit, by_rate = pace.next_wait()
        started = trio.current_time()
        with trio.move_on_after(limit) as waiting:
            event = await conn.next_event(source, self.config.receive_size, timeout=math.inf)
        pace.waited += trio.current_time() - started
        if not waiting.cancelled_caught:
            return event
        if by_rate:
            return SlowUpload(f"upload slower than --min-rate {self.config.min_rate} B/s: "
                              f"{pace.received} bytes in {pace.waited:.1f} s")
        return DataTimeout(f"no data for {limit:g} s")
