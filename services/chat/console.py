"""The operator console: lines typed at the server are sent to clients, as in the tutorial.

Commands (one per line)::

    TEXT               say TEXT in #lobby as ``operator``
    #ROOM TEXT         say TEXT in #ROOM
    @NICK TEXT         tell NICK privately
    /all TEXT          say TEXT in every room
    /who [ROOM]        who is in ROOM (default lobby)
    /rooms             the rooms and their sizes
    /kick NICK [WHY]   disconnect NICK with a reason
    /stats             the server's counters
    /shutdown          graceful shutdown, as on SIGTERM
    /help              this summary

The console prints replies, what classic clients say, and private messages to
``operator``, in the protocol's own line forms, sanitized as every client's
lines are (:func:`services.chat.grammar.sanitize`).

Resource handling: input is any Trio ``ReceiveStream`` (tests use memory
streams; the command uses stdin). EOF on it ends the console, never the
server: in a container stdin is closed from the start. Output goes through
a bounded queue; when the terminal does not keep up, lines are dropped and
counted (``console_dropped``) rather than stalling the server.
"""

from __future__ import annotations

import json
import logging

import trio

from services.chat.codec import encode_server_event
from services.chat.directory import OPERATOR, Directory
from services.chat.events import ChatCode, Error, HelpText, Message, RoomList, ServerEvent, WhoList
from services.chat.grammar import DEFAULT_ROOM, room_name, sanitize
from services.runtime.counters import Counters
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import log_event
from services.wire.errors import RemoteProtocolError
from services.wire.lines import LineDecoder
from services.wire.sentinels import CLOSED, NEED_DATA

OUTPUT_QUEUE = 256
MAX_CONSOLE_LINE = 4096
CONSOLE_HELP = (
    "TEXT (to #lobby), #ROOM TEXT, @NICK TEXT, /all TEXT, /who [ROOM], /rooms,"
    " /kick NICK [WHY], /stats, /shutdown, /help"
)


class Console:
    """Reads operator lines from ``source`` and writes what the operator sees to ``sink``."""

    def __init__(
        self,
        directory: Directory,
        *,
        counters: Counters,
        lifecycle: Lifecycle,
        logger: logging.Logger,
        source: trio.abc.ReceiveStream,
        sink: trio.abc.SendStream | None = None,
    ) -> None:
        self.directory = directory
        self.counters = counters
        self.lifecycle = lifecycle
        self.logger = logger
        self.source = source
        self.sink = sink
        self._out_send, self._out_recv = trio.open_memory_channel[bytes](OUTPUT_QUEUE)
        directory.operator_sink = self.show

    def show(self, line: str) -> None:
        """Queue a line for the operator's screen; dropped (and counted) if it is full.

        Every line the operator sees passes here, so it is sanitized here:
        what a client said cannot drive the operator's terminal.
        """
        if self.sink is None:
            return
        try:
            self._out_send.send_nowait(sanitize(line).encode("utf-8", "replace") + b"\n")
        except (trio.WouldBlock, trio.ClosedResourceError):
            self.counters.extra["console_dropped"] += 1

    async def run(self) -> None:
        """Serve the console until cancelled (input EOF stops reading, not the server)."""
        async with trio.open_nursery() as nursery:
            if self.sink is not None:
                nursery.start_soon(self._write)
            await self._read()

    async def _read(self) -> None:
        lines = LineDecoder(MAX_CONSOLE_LINE)
        while True:
            try:
                line = lines.next_line()
            except RemoteProtocolError as exc:
                self.show(f"! {exc.code}: {exc.message}")
                continue
            if line is NEED_DATA:
                try:
                    data = bytes(await self.source.receive_some(4096))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                lines.receive_data(data)
                continue
            if line is CLOSED:
                log_event(self.logger, "console-eof")
                return
            assert isinstance(line, str)
            if line.strip():
                self.execute(line.strip())

    async def _write(self) -> None:
        assert self.sink is not None
        async for data in self._out_recv:
            try:
                await self.sink.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return

    def execute(self, line: str) -> None:
        """Carry out one operator line."""
        self.counters.extra["console_lines"] += 1
        directory = self.directory
        if line.startswith("/") and not line.startswith("//"):
            self._command(line)
        elif line.startswith("@"):
            nick, _, text = line[1:].partition(" ")
            if not text.strip():
                self._reply(Error(ChatCode.BAD_ARGUMENTS, "usage: @NICK TEXT"))
            elif not directory.tell(OPERATOR, nick, sanitize(text.strip())):
                self._reply(Error(ChatCode.NO_SUCH_NICK, f"no client is called {sanitize(nick)}"))
        elif line.startswith("#"):
            target, _, text = line.partition(" ")
            room = room_name(target)
            if room is None or not text.strip():
                self._reply(Error(ChatCode.BAD_ARGUMENTS, "usage: #ROOM TEXT"))
            else:
                self._say(room, text.strip())
        else:
            self._say(DEFAULT_ROOM, line.removeprefix("/"))

    def _say(self, room: str, text: str) -> None:
        if room not in self.directory.rooms:
            self._reply(Error(ChatCode.BAD_ROOM, f"no room #{room}"))
            return
        self.directory.broadcast(room, Message(room, OPERATOR, sanitize(text)))

    def _command(self, line: str) -> None:
        name, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        directory = self.directory
        match name.lower():
            case "all":
                if not rest:
                    self._reply(Error(ChatCode.BAD_ARGUMENTS, "usage: /all TEXT"))
                for room in list(directory.rooms):
                    if rest:
                        self._say(room, rest)
            case "who":
                asked = room_name(rest) if rest else DEFAULT_ROOM
                if asked is None:
                    self._reply(Error(ChatCode.BAD_ROOM, f"no room {sanitize(rest)}"))
                else:
                    self._reply(directory.who(asked))
            case "rooms":
                self._reply(directory.room_list())
            case "kick":
                self._kick(rest)
            case "stats":
                self.show("= stats " + json.dumps(self.counters.snapshot(), sort_keys=True))
            case "shutdown":
                self.lifecycle.request_shutdown("console")
            case "help":
                self._reply(HelpText(CONSOLE_HELP))
            case _:
                self._reply(Error(ChatCode.UNKNOWN_COMMAND, f"no console command /{name[:32]}"))

    def _kick(self, rest: str) -> None:
        nick, _, why = rest.partition(" ")
        member = self.directory.find(nick)
        if member is None:
            self._reply(Error(ChatCode.NO_SUCH_NICK, f"no client is called {sanitize(nick)}"))
            return
        reason = sanitize(why.strip()) or "kicked by the operator"
        log_event(self.logger, "kick", peer=member.conn.peer, nick=member.nick, reason=reason)
        self.directory.end(member, Error(ChatCode.KICKED, reason), ChatCode.KICKED)
        self.show(f"= kicked {member.nick}")

    def _reply(self, event: ServerEvent | RoomList | WhoList) -> None:
        self.show(encode_server_event(event).decode("utf-8").rstrip("\n"))
