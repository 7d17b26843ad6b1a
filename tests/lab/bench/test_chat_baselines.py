"""The threaded and asyncio broadcast chats: a nickname first, then every line to the others."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
import trio

from tests.lab.bench.chat_servers import asyncio_chat_server, threaded_chat

Baseline = Callable[[], AbstractContextManager[int]]
BASELINES = [pytest.param(threaded_chat, id="threaded"),
             pytest.param(asyncio_chat_server, id="asyncio")]


async def read_until(stream: trio.SocketStream, expected: bytes) -> bytes:
    received = b""
    with trio.fail_after(5):
        while not received.endswith(expected):
            data = await stream.receive_some()
            assert data, f"closed after {received!r}"
            received += data
    return received


@pytest.fixture(params=BASELINES)
def baseline_port(request: pytest.FixtureRequest) -> Iterator[int]:
    with request.param() as port:
        yield port


async def connect_as(port: int, nick: bytes) -> trio.SocketStream:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(nick + b"\n")
    return stream


async def test_a_line_reaches_every_other_client_with_its_senders_nick(baseline_port: int,
                                                                        ) -> None:
    alice = await connect_as(baseline_port, b"alice")
    bob = await connect_as(baseline_port, b"bob")
    carol = await connect_as(baseline_port, b"carol")
    async with alice, bob, carol:
        # Registration is asynchronous: bob speaks until carol hears him.
        with trio.fail_after(5):
            while True:
                await bob.send_all(b"ping\n")
                with trio.move_on_after(0.2):
                    await read_until(carol, b"bob: ping\n")
                    break
        await alice.send_all(b"hello\n")
        assert (await read_until(bob, b"alice: hello\n")).endswith(b"alice: hello\n")
        assert (await read_until(carol, b"alice: hello\n")).endswith(b"alice: hello\n")


async def test_a_client_without_a_nickname_hears_nothing(baseline_port: int) -> None:
    silent = await trio.open_tcp_stream("127.0.0.1", baseline_port)
    alice = await connect_as(baseline_port, b"alice")
    bob = await connect_as(baseline_port, b"bob")
    async with silent, alice, bob:
        with trio.fail_after(5):
            while True:
                await alice.send_all(b"hi\n")
                with trio.move_on_after(0.2):
                    await read_until(bob, b"alice: hi\n")
                    break
        with trio.move_on_after(0.3):
            assert await silent.receive_some() == b"never"
