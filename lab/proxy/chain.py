"""One direction's toxics on one connection, changed at runtime (model: toxiproxy's collection).

The chain is the relay's pipe and flush for its direction. Each chunk goes
through the stages present when it arrives, in the order the toxics were
added; adding or removing a toxic affects the chunks from then on, and the
connection stays open. A removed stage is told so (``retire``), which ends
what it holds back (a blackhole's FIN, a slow close); what it still holds
(a latency's chunks in flight, a coalescer's glue) is flushed through the
stages that followed it before the next chunk or the FIN, so removing a
toxic never reorders the stream.

Whether a toxic applies is drawn once per connection and direction from the
link's seeded ``rng`` (its ``toxicity``); a toxic that does not apply gets a
stage that passes everything.
"""

from __future__ import annotations

from lab.proxy.toxics import Link, Stage, Toxic
from lab.relay import Send


class ToxicChain:
    """The stages of one direction of one connection, by toxic name."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.stages: dict[str, Stage] = {}
        self.retiring: list[tuple[Stage, list[str]]] = []  # removed, maybe holding bytes
        self.sent = 0  # bytes delivered past the chain

    def _counted(self, send: Send) -> Send:
        async def send_counted(chunk: bytes) -> None:
            await send(chunk)
            self.sent += len(chunk)
        return send_counted

    def add(self, toxic: Toxic) -> None:
        applies = toxic.toxicity >= 1.0 or self.link.rng.random() < toxic.toxicity
        self.stages[toxic.name] = toxic.stage(self.link) if applies else Stage()

    def remove(self, name: str) -> None:
        names = list(self.stages)
        stage = self.stages.pop(name, None)
        if stage is not None:
            self.retiring.append((stage, names[names.index(name) + 1:]))
            stage.retire()

    async def _drain_retiring(self, send: Send) -> None:
        """With the lock held: removed stages flush through the stages that followed them."""
        while self.retiring:
            stage, followers = self.retiring.pop(0)
            rest = [s for name, s in self.stages.items() if name in followers]

            async def onward(chunk: bytes, rest: list[Stage] = rest) -> None:
                await _through(rest, chunk, send)

            await stage.flush(onward)

    async def pipe(self, chunk: bytes, send: Send) -> None:
        """The relay's pipe: the chunk through every stage, then ``send``."""
        send = self._counted(send)
        async with self.link.lock:
            await self._drain_retiring(send)
            await _through(list(self.stages.values()), chunk, send)

    async def flush(self, send: Send) -> None:
        """The relay's flush: each stage flushes through the stages after it."""
        send = self._counted(send)
        async with self.link.lock:
            await self._drain_retiring(send)
            stages = list(self.stages.values())
            for index, stage in enumerate(stages):
                rest = stages[index + 1:]

                async def onward(chunk: bytes, rest: list[Stage] = rest) -> None:
                    await _through(rest, chunk, send)

                await stage.flush(onward)


async def _through(stages: list[Stage], chunk: bytes, send: Send) -> None:
    if not stages:
        await send(chunk)
        return
    first, rest = stages[0], stages[1:]

    async def onward(piece: bytes) -> None:
        await _through(rest, piece, send)

    await first.pipe(chunk, onward)
