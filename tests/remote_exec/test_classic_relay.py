"""The tutorial's exec client through a relay that glues its ``ok`` to its next command.

A relay (the lab's gateway) acknowledges the client's ``ok`` itself, so the
client's next command follows at once, and the relay may read and forward
both in one piece: the server then reads ``oktrue`` in one receive. The relay
here is the lab's own (:func:`lab.relay.relay`), reading the client through
:class:`GluingStream`, which makes that happen every time instead of now and
then.
"""

from __future__ import annotations

from functools import partial

import trio

from lab.relay import relay
from tests.remote_exec.test_classic import ask
from tests.support.servers import StartExec

# Seconds a lone ``ok`` waits for the bytes that follow it: well past a delayed ACK (the
# client's next command waits for the ACK of ``ok``), short enough for an ``ok`` that
# nothing follows (the client waits for a result).
GLUE_WINDOW = 1.0


class GluingStream(trio.abc.HalfCloseableStream):
    """A relay's client side: a receive of ``ok`` comes out with whatever follows it soon."""

    def __init__(self, inner: trio.SocketStream) -> None:
        self.inner = inner
        self.glued = 0  # receives that carried ``ok`` and more

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = bytes(await self.inner.receive_some(max_bytes))
        if data == b"ok":
            with trio.move_on_after(GLUE_WINDOW):
                more = bytes(await self.inner.receive_some(max_bytes))
                data += more
                self.glued += bool(more)
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def start_gluing_relay(
    nursery: trio.Nursery, upstream_port: int
) -> tuple[int, list[GluingStream]]:
    """A relay on a free loopback port to the server on ``upstream_port``; its client sides."""
    clients: list[GluingStream] = []

    async def handle(client: trio.SocketStream) -> None:
        gluing = GluingStream(client)
        clients.append(gluing)
        async with client, await trio.open_tcp_stream("127.0.0.1", upstream_port) as upstream:
            await relay(gluing, upstream, idle_timeout=30)

    listeners = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1]), clients


async def test_the_tutorial_client_runs_commands_after_empty_results_through_a_gluing_relay(
    start_server: StartExec, nursery: trio.Nursery,
) -> None:
    server = await start_server(sandbox_uids="off")
    port, clients = await start_gluing_relay(nursery, server.port)
    with trio.fail_after(30):
        answers = await ask(port, b"true", b"true", b"echo x", b"true")
    assert answers == [b"", b"", b"x\n", b""]
    (client,) = clients
    assert client.glued >= 1  # what this test is about: the server read ok and a command
    assert server.counters.extra["classic_glued_ack"] == client.glued
    assert server.counters.extra["classic_commands"] == 4
