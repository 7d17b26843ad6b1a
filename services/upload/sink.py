"""Hashing and writing off the event loop, pipelined with receiving.

Why: SHA-256 and ``write`` of a megabyte take about a millisecond; done on
the event loop they would stall every connection, and done one chunk per
thread call they would bind throughput to the thread round trip (~50 µs).
So the receiving task drops chunks into a bounded channel and returns to the
socket at once, while one drain task per upload hands *everything queued* to
a worker thread in one call. Receiving the next chunks overlaps with hashing
and writing the previous ones; hashlib and ``os.write`` release the GIL.

Resource handling: the channel holds at most ``capacity`` chunks (each at
most one receive), so memory per upload is bounded. On normal exit every
queued chunk is written before the context exits. If the body fails or is
cancelled, what is queued is dropped: the file then holds a prefix of the
data, which is all a resume needs. A write error cancels the body and
propagates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import trio

from services.runtime.connection import collapse

BATCH_BYTES = 4 << 20
CAPACITY = 32

WriteBatch = Callable[[list[bytes]], Awaitable[None]]
Feed = Callable[[bytes], Awaitable[None]]


async def _drain(receive: trio.MemoryReceiveChannel[bytes], write: WriteBatch) -> None:
    async with receive:
        async for first in receive:
            batch = [first]
            size = len(first)
            while size < BATCH_BYTES:
                try:
                    chunk = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                batch.append(chunk)
                size += len(chunk)
            await write(batch)


@asynccontextmanager
async def open_sink(
    writers: Sequence[WriteBatch], *, capacity: int = CAPACITY
) -> AsyncIterator[Feed]:
    """Yield ``feed(chunk)``; every chunk reaches each writer in order, batched, in the background.

    Each writer has its own channel and drain task, so hashing and writing
    proceed in parallel and neither waits for the other's batch.
    """
    channels = [trio.open_memory_channel[bytes](capacity) for _ in writers]
    sends = [send for send, _ in channels]

    async def feed(chunk: bytes) -> None:
        for send in sends:
            await send.send(chunk)

    try:
        async with trio.open_nursery() as nursery:
            for (_, receive), write in zip(channels, writers, strict=True):
                nursery.start_soon(_drain, receive, write)
            try:
                yield feed
            finally:
                for send in sends:
                    send.close()
    except BaseExceptionGroup as group:
        # Only Exceptions reach here as a group of one; let cancellations be.
        if isinstance(group, ExceptionGroup):
            raise collapse(group) from None
        raise
