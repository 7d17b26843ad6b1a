"""Raw peers over loopback, for tests that misbehave or look at every event.

:class:`LinePeer` speaks chat's line framing (with or without the netlab
preface); :class:`FramePeer` speaks exec's and upload's kind-byte frames after
the preface. Both parse what they receive with the service's own sans-IO
client protocol, strictly, so a malformed byte fails the test.

Resource handling: each peer owns its socket stream; ``aclose`` closes it.
"""

from __future__ import annotations

from typing import Any, Protocol

import trio

from services.chat.events import Joined as ChatJoined
from services.chat.events import Renamed, ServerEvent, Welcome
from services.chat.protocol import ClientProtocol
from services.remote_exec.protocol import ExecConnection
from services.remote_exec.protocol import Role as ExecRole
from services.upload.events import Data, End
from services.upload.protocol import Role as UploadRole
from services.upload.protocol import UploadConnection
from services.wire.preface import encode_preface
from services.wire.sentinels import CLOSED, NEED_DATA

HOST = "127.0.0.1"
RECEIVE_SIZE = 65536


class LinePeer:
    """A chat client over loopback: netlab preface or plain lines."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.proto = ClientProtocol()

    @classmethod
    async def connect(cls, port: int, *, preface: bool = True) -> LinePeer:
        stream = await trio.open_tcp_stream(HOST, port)
        if preface:
            await stream.send_all(encode_preface("chat"))
        return cls(stream)

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
                    data = await self.stream.receive_some(RECEIVE_SIZE)
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


async def joined(port: int, nick: str | None = None, *, preface: bool = True) -> LinePeer:
    """A line peer past its welcome and join (a classic one asks ``/who`` to be detected),
    renamed to ``nick`` if given."""
    peer = await LinePeer.connect(port, preface=preface)
    if not preface:
        await peer.send(b"/who\n")
    welcome = await peer.expect(Welcome)
    await peer.expect(ChatJoined)
    if nick is not None:
        await peer.send(f"/nick {nick}\n".encode())
        renamed = await peer.expect(Renamed)
        assert renamed == Renamed(welcome.nick, nick)
    return peer


class FrameProtocol(Protocol):
    """The client side of exec's or upload's sans-IO protocol."""

    def receive_data(self, data: bytes) -> None: ...
    def next_event(self) -> object: ...
    def send(self, event: Any) -> bytes: ...


class FramePeer:
    """A netlab-mode exec or upload client: the preface, then frames."""

    def __init__(self, stream: trio.SocketStream, proto: FrameProtocol) -> None:
        self.stream = stream
        self.proto = proto

    @classmethod
    async def exec(cls, port: int) -> FramePeer:
        return await cls._connect(port, "exec", ExecConnection(ExecRole.CLIENT))

    @classmethod
    async def upload(cls, port: int) -> FramePeer:
        return await cls._connect(port, "upload", UploadConnection(UploadRole.CLIENT))

    @classmethod
    async def _connect(cls, port: int, service: str, proto: FrameProtocol) -> FramePeer:
        stream = await trio.open_tcp_stream(HOST, port)
        await stream.send_all(encode_preface(service))
        return cls(stream, proto)

    async def send(self, event: object) -> None:
        await self.stream.send_all(self.proto.send(event))

    async def next(self, timeout: float = 5.0) -> object:
        """The next event, or CLOSED."""
        with trio.fail_after(timeout):
            while (event := self.proto.next_event()) is NEED_DATA:
                self.proto.receive_data(await self.stream.receive_some(RECEIVE_SIZE))
        return event

    async def until_closed(self, timeout: float = 5.0) -> list[object]:
        """Every event up to CLOSED."""
        events = []
        while (event := await self.next(timeout)) is not CLOSED:
            events.append(event)
        return events

    async def aclose(self) -> None:
        await self.stream.aclose()


async def send_upload(
    peer: FramePeer, data: bytes, *, frame: int = 64 * 1024, cut: int | None = None
) -> bytes:
    """Send ``data`` as upload DATA frames and END; with ``cut``, only that many bytes of them.

    Returns the whole wire form, so a test can send the rest later.
    """
    wire = b"".join(
        peer.proto.send(Data(data[start : start + frame]))
        for start in range(0, len(data), frame)
    ) + peer.proto.send(End())
    await peer.stream.send_all(wire if cut is None else wire[:cut])
    return wire
