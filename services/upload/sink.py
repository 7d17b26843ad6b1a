"""Hashing and writing off the event loop, pipelined with receiving.

Why: SHA-256 and ``write`` of a megabyte take about a millisecond each; done
on the event loop they would stall every connection. Handing each received
chunk (often ~100 KB) to a thread would bind throughput to the thread round
trip instead (tens of µs of CPU each, twice per chunk). So chunks are
gathered into batches of about :data:`BATCH_BYTES` on the Trio side, and each
writer (hashing, writing) has its own bounded channel and drain task that
hands one batch at a time to a worker thread. Receiving the next batch
overlaps with hashing and writing the previous ones, and hashing overlaps
with writing: hashlib and ``os.write`` release the GIL.

Resource handling: each channel holds at most ``capacity`` batches, so memory
per upload is bounded (about ``capacity × BATCH_BYTES`` per writer, plus one
batch being gathered). On normal exit every chunk is written before the
context exits. If the body fails or is cancelled, what is queued is dropped:
the file then holds a prefix of the data, which is all a resume needs. A
writer's error cancels the body and propagates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import trio

from services.runtime.connection import collapse

BATCH_BYTES = 2 << 20
CAPACITY = 2

Chunk = bytes | memoryview
WriteBatch = Callable[[list[Chunk]], Awaitable[None]]
Feed = Callable[[Chunk], Awaitable[None]]


async def _drain(receive: trio.MemoryReceiveChannel[list[Chunk]], write: WriteBatch) -> None:
    async with receive:
        async for batch in receive:
            await write(batch)


@asynccontextmanager
async def open_sink(
    writers: Sequence[WriteBatch], *, capacity: int = CAPACITY, batch_bytes: int = BATCH_BYTES
) -> AsyncIterator[Feed]:
    """Yield ``feed(chunk)``: chunks reach every writer in order, batched, in the background."""
    channels = [trio.open_memory_channel[list[Chunk]](capacity) for _ in writers]
    pending: list[Chunk] = []
    pending_bytes = 0

    async def flush() -> None:
        nonlocal pending, pending_bytes
        if pending:
            batch, pending, pending_bytes = pending, [], 0
            for send, _ in channels:
                await send.send(batch)

    async def feed(chunk: Chunk) -> None:
        nonlocal pending_bytes
        pending.append(chunk)
        pending_bytes += len(chunk)
        if pending_bytes >= batch_bytes:
            await flush()

    try:
        async with trio.open_nursery() as nursery:
            for (_, receive), write in zip(channels, writers, strict=True):
                nursery.start_soon(_drain, receive, write)
            try:
                yield feed
                await flush()
            finally:
                for send, _ in channels:
                    send.close()
    except BaseExceptionGroup as group:
        # Let cancellations be. A writer's error (a full disk) comes first: the
        # feed may also have hit the closed channel of that writer meanwhile.
        if isinstance(group, ExceptionGroup):
            disk, _ = group.split(OSError)
            raise _first(disk) if disk is not None else collapse(group) from None
        raise


def _first(group: ExceptionGroup[OSError]) -> OSError:
    """The first leaf of a group of OS errors."""
    exc: OSError | ExceptionGroup[OSError] = group
    while isinstance(exc, ExceptionGroup):
        exc = exc.exceptions[0]
    return exc
