"""TCP_QUICKACK on and off, and nothing at all where there is no socket."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from services.runtime.acks import QUICKACK, ack_now, delay_acks

pytestmark = pytest.mark.skipif(QUICKACK is None, reason="TCP_QUICKACK is Linux-only")


def quickack(sock: trio.socket.SocketType) -> int:
    assert QUICKACK is not None
    return int(sock.getsockopt(socket.IPPROTO_TCP, QUICKACK))


async def test_a_listener_set_to_delay_passes_it_to_what_it_accepts() -> None:
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    async with listener:
        assert delay_acks(listener)
        port = listener.socket.getsockname()[1]
        async with (
            await trio.open_tcp_stream("127.0.0.1", port),
            await listener.accept() as accepted,
        ):
            assert quickack(accepted.socket) == 0  # inherited: ACKs wait
            assert ack_now(accepted)
            assert quickack(accepted.socket) == 1


def test_streams_without_a_socket_are_left_alone() -> None:
    left, _right = trio.testing.memory_stream_pair()
    assert not ack_now(left)
    assert not delay_acks(left)


async def test_a_closed_socket_is_left_alone() -> None:
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    await listener.aclose()
    assert not ack_now(listener)
