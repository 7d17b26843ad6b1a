"""Helpers for the chat tests: an in-process server and a raw line-mode peer."""

from __future__ import annotations

import logging
from typing import Any

import trio
import trio.testing

from services.chat.config import ChatConfig
from services.chat.events import ServerEvent
from services.chat.protocol import ClientProtocol
from services.chat.server import ChatServer
from services.wire import CLOSED, NEED_DATA, encode_preface

LOGGER = logging.getLogger("netlab.test.chat")


async def start_server(nursery: trio.Nursery, **overrides: Any) -> tuple[ChatServer, int]:
    """A chat server on a free port, with a console fed by ``server.console_input``."""
    config = ChatConfig(**{"port": 0, **overrides})
    console_in, console_source = trio.testing.memory_stream_one_way_pair()
    console_sink, console_out = trio.testing.memory_stream_one_way_pair()
    server = ChatServer(
        config, logger=LOGGER, console_source=console_source, console_sink=console_sink
    )
    server.console_input = console_in  # type: ignore[attr-defined]
    server.console_output = console_out  # type: ignore[attr-defined]
    port: int = await nursery.start(server.run)
    return server, port


class Peer:
    """A raw client over loopback: netlab preface or plain lines, events parsed strictly."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.proto = ClientProtocol()

    @classmethod
    async def connect(cls, port: int, *, preface: bool = True) -> Peer:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        peer = cls(stream)
        if preface:
            await stream.send_all(encode_preface("chat"))
        return peer

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def event(self, timeout: float = 5.0) -> ServerEvent | None:
        """The next event; None at EOF."""
        with trio.fail_after(timeout):
            while True:
                event = self.proto.next_event()
                if event is CLOSED:
                    return None
                if event is not NEED_DATA:
                    assert not isinstance(event, type(CLOSED))
                    return event
                try:
                    data = await self.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    data = b""
                self.proto.receive_data(data)

    async def expect(self, kind: type, timeout: float = 5.0) -> Any:
        """Skip events until one of ``kind``; fail on EOF."""
        while True:
            event = await self.event(timeout)
            assert event is not None, f"EOF while waiting for {kind.__name__}"
            if isinstance(event, kind):
                return event

    async def drain(self, timeout: float = 5.0) -> list[ServerEvent]:
        """Every event up to EOF."""
        events = []
        while (event := await self.event(timeout)) is not None:
            events.append(event)
        return events

    async def aclose(self) -> None:
        await self.stream.aclose()
