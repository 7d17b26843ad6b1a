"""Toxic stages on their own: pieces and glue, with a recording send and a seeded rng."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from lab.proxy.chain import ToxicChain
from lab.proxy.toxics import LATENCY_BUFFER, Bandwidth, Coalescer, Latency, Link, Slicer, Toxic


def link(nursery: trio.Nursery, seed: int = 1) -> Link:
    def never(reason: str) -> None:
        raise AssertionError(reason)
    return Link(random.Random(seed), trio.Lock(), nursery.start_soon, never, never)


async def pieces_of(chain: ToxicChain, *chunks: bytes) -> list[bytes]:
    seen: list[bytes] = []

    async def send(piece: bytes) -> None:
        seen.append(piece)
    for chunk in chunks:
        await chain.pipe(chunk, send)
    await chain.flush(send)
    return seen


async def test_the_slicer_cuts_chunks_into_pieces_of_at_most_average_plus_variation(
    nursery: trio.Nursery,
) -> None:
    chain = ToxicChain(link(nursery))
    chain.add(Slicer(name="s", average_size=5, size_variation=2))
    pieces = await pieces_of(chain, bytes(1000))
    assert b"".join(pieces) == bytes(1000)
    assert max(map(len, pieces)) <= 7 and len(pieces) >= 1000 // 7


async def test_the_same_seed_gives_the_same_slices(nursery: trio.Nursery) -> None:
    def sizes(seed: int) -> list[int]:
        return [len(p) for p in runs[seed]]
    runs: dict[int, list[bytes]] = {}
    for seed in (7, 7, 8):
        chain = ToxicChain(link(nursery, seed))
        chain.add(Slicer(name="s", average_size=10, size_variation=9))
        pieces = await pieces_of(chain, bytes(500))
        if seed in runs:
            assert [len(p) for p in pieces] == sizes(seed)
        runs[seed] = pieces
    assert sizes(7) != sizes(8)


async def test_the_coalescer_glues_chunks_written_within_its_window(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    chain = ToxicChain(link(nursery))
    chain.add(Coalescer(name="c", window=100))
    seen: list[bytes] = []

    async def send(piece: bytes) -> None:
        seen.append(piece)
    for part in (b"a", b"b", b"c"):
        await chain.pipe(part, send)
        await trio.sleep(0.01)
    await trio.sleep(0.2)
    await chain.pipe(b"later", send)
    await chain.flush(send)  # EOF sends what is held
    assert seen == [b"abc", b"later"]


async def test_latency_holds_each_chunk_at_least_its_latency(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    chain = ToxicChain(link(nursery))
    chain.add(Latency(name="l", latency=300, jitter=50))
    start = trio.current_time()
    assert await pieces_of(chain, b"x") == [b"x"]
    assert 0.25 <= trio.current_time() - start <= 0.35


async def test_a_toxic_with_toxicity_zero_never_applies(nursery: trio.Nursery) -> None:
    chain = ToxicChain(link(nursery))
    chain.add(Slicer(name="s", average_size=1, toxicity=0.0))
    assert await pieces_of(chain, b"whole") == [b"whole"]


@pytest.mark.parametrize("bad", [
    {"toxicity": 2.0}, {"stream": "sideways"}, {"name": ""},
])
def test_toxics_refuse_values_out_of_range(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Toxic(**{"name": "t", **bad})  # type: ignore[arg-type]


async def test_a_coalescer_flushing_to_a_vanished_peer_closes_its_connection_only(
    autojump_clock: trio.testing.MockClock,
) -> None:
    closed: list[str] = []

    async def broken(piece: bytes) -> None:
        raise trio.BrokenResourceError("peer reset")

    def never(reason: str) -> None:
        raise AssertionError(reason)

    # The timer's nursery stands for the connection's: an error escaping the
    # flush would end it, and with it the proxy's serving task.
    async with trio.open_nursery() as connection:
        held = Link(random.Random(1), trio.Lock(), connection.start_soon, closed.append, never)
        chain = ToxicChain(held)
        chain.add(Coalescer(name="c", window=100))
        await chain.pipe(b"held back", broken)
        await trio.sleep(0.2)
    assert closed == ["coalescer: peer gone"]


async def test_bandwidth_holds_a_chunk_to_its_rate(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    chain = ToxicChain(link(nursery))
    chain.add(Bandwidth(name="b", rate=1000))
    start = trio.current_time()
    pieces = await pieces_of(chain, bytes(3000))
    assert b"".join(pieces) == bytes(3000)
    assert max(map(len, pieces)) <= 100  # a tenth of a second's worth at a time
    assert trio.current_time() - start == pytest.approx(3.0)


async def test_a_fractional_toxicity_applies_to_a_seeded_share_of_connections(
    nursery: trio.Nursery,
) -> None:
    def applied(seed: int) -> list[bool]:
        rng = random.Random(seed)
        marks = []
        for _ in range(200):
            never = Link(rng, trio.Lock(), nursery.start_soon, print, print)
            chain = ToxicChain(never)
            chain.add(Slicer(name="s", average_size=1, toxicity=0.25))
            marks.append(type(chain.stages["s"]).__name__ != "Stage")
        return marks

    first = applied(3)
    assert first == applied(3)  # the same seed, the same connections
    assert 30 <= sum(first) <= 70  # about a quarter of 200


class Timed:
    """A send that records each piece with the time it went, from the test's start."""

    def __init__(self) -> None:
        self.start = trio.current_time()
        self.seen: list[tuple[float, bytes]] = []

    async def __call__(self, piece: bytes) -> None:
        self.seen.append((trio.current_time() - self.start, piece))

    @property
    def pieces(self) -> list[bytes]:
        return [piece for _, piece in self.seen]


async def test_a_burst_through_latency_waits_one_latency_not_one_per_chunk(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    chain = ToxicChain(link(nursery))
    chain.add(Latency(name="l", latency=100))
    send = Timed()
    for i in range(10):
        await chain.pipe(bytes([i]), send)
    assert trio.current_time() - send.start == 0  # the relay was not held up
    await trio.sleep(1)
    assert send.pieces == [bytes([i]) for i in range(10)]
    assert [t for t, _ in send.seen] == pytest.approx([0.1] * 10)


async def test_each_chunk_waits_its_own_jittered_latency_from_its_arrival_in_order(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    async def run(seed: int) -> list[float]:
        chain = ToxicChain(link(nursery, seed))
        chain.add(Latency(name="l", latency=100, jitter=50))
        send = Timed()
        for i in range(40):
            await chain.pipe(bytes([i]), send)
            await trio.sleep(0.01)
        await chain.flush(send)
        assert send.pieces == [bytes([i]) for i in range(40)]  # order kept
        times = [t for t, _ in send.seen]
        previous = 0.0
        for i, sent in enumerate(times):
            arrival = i * 0.01
            assert sent >= arrival + 0.05 - 1e-9  # latency - jitter at least
            assert sent <= max(arrival + 0.15, previous) + 1e-9  # late only behind another
            previous = sent
        assert times[-1] < 0.4 + 0.15 + 1e-9  # a pipeline: not 40 latencies
        return times

    first = await run(5)
    assert first == pytest.approx(await run(5))  # the seed fixes the jitter
    assert len(set(first)) > 10 and first != pytest.approx(await run(6))


async def test_removing_latency_sends_what_it_held_before_the_next_chunk(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    chain = ToxicChain(link(nursery))
    chain.add(Latency(name="l", latency=100))
    send = Timed()
    await chain.pipe(b"a", send)
    await chain.pipe(b"b", send)
    chain.remove("l")
    await chain.pipe(b"c", send)  # after a and b, never before
    assert send.pieces == [b"a", b"b", b"c"]
    assert [t for t, _ in send.seen] == pytest.approx([0.1, 0.1, 0.1])
    await chain.pipe(b"d", send)
    assert send.seen[-1] == (pytest.approx(0.1), b"d")  # no latency any more


async def test_latency_holds_at_most_its_buffer_then_the_sender_waits(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    chain = ToxicChain(link(nursery))
    chain.add(Latency(name="l", latency=100))
    send = Timed()
    half = bytes(LATENCY_BUFFER // 2)
    await chain.pipe(half, send)
    await trio.sleep(0.05)
    await chain.pipe(half, send)
    assert trio.current_time() - send.start == pytest.approx(0.05)  # both fit
    await chain.pipe(half, send)  # full: waits until the first one is due and sent
    assert trio.current_time() - send.start == pytest.approx(0.1)
    assert len(send.seen) == 1
    await chain.flush(send)
    assert [t for t, _ in send.seen] == pytest.approx([0.1, 0.15, 0.2])


async def test_latency_toward_a_vanished_peer_resets_its_connection_only(
    autojump_clock: trio.testing.MockClock,
) -> None:
    resets: list[str] = []

    async def broken(piece: bytes) -> None:
        raise trio.BrokenResourceError("peer reset")

    def never(reason: str) -> None:
        raise AssertionError(reason)

    async with trio.open_nursery() as connection:
        held = Link(random.Random(1), trio.Lock(), connection.start_soon, never, resets.append)
        chain = ToxicChain(held)
        chain.add(Latency(name="l", latency=100))
        await chain.pipe(b"in flight", broken)
        await trio.sleep(0.2)
        connection.cancel_scope.cancel()
    assert resets == ["latency: peer gone"]
