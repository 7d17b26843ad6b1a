"""A bare netlab-mode client for tests that need to misbehave (cut, lie, stall)."""

from __future__ import annotations

import trio

from services.upload.events import Data, End, Event
from services.upload.protocol import Role, UploadConnection
from services.wire.preface import encode_preface
from services.wire.sentinels import CLOSED, NEED_DATA


class RawClient:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.proto = UploadConnection(Role.CLIENT)

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(encode_preface("upload"))
        return cls(stream)

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.proto.send(event))

    async def send_upload(self, data: bytes, *, frame: int = 64 * 1024,
                          cut: int | None = None) -> bytes:
        """Send ``data`` as DATA frames and END; with ``cut``, only that many bytes of them."""
        wire = b"".join(
            self.proto.send(Data(data[start : start + frame]))
            for start in range(0, len(data), frame)
        ) + self.proto.send(End())
        await self.stream.send_all(wire if cut is None else wire[:cut])
        return wire

    async def next(self, timeout: float = 5.0) -> object:
        """The next event or CLOSED."""
        with trio.fail_after(timeout):
            while (event := self.proto.next_event()) is NEED_DATA:
                self.proto.receive_data(await self.stream.receive_some(65536))
        return event

    async def until_closed(self, timeout: float = 5.0) -> list[object]:
        events = []
        while (event := await self.next(timeout)) is not CLOSED:
            events.append(event)
        return events

    async def aclose(self) -> None:
        await self.stream.aclose()
