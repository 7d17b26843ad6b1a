"""The chat protocol's two ends, sans-IO (model: h11): bytes in, events out, events in, bytes out.

Theory of operation: each end splits the peer's bytes into lines with the
shared :class:`~services.wire.lines.LineDecoder` and reads each line with the
grammar of :mod:`services.chat.codec`. Chat has no turns to keep: any client
line may come at any time and the server may send any line at any time, so
there is no state table, only the line limits.

Error handling: a line longer than the limit or not UTF-8 raises
:class:`RemoteProtocolError` and the parser stays usable for the next line; a
client line the server cannot act on is an :class:`Invalid` event, not an
error. On the client side any line outside the grammar raises ``bad-message``.
"""

from __future__ import annotations

from services.chat.codec import (
    encode_client_event,
    encode_server_event,
    parse_client_line,
    parse_server_line,
)
from services.chat.events import ClientEvent, ServerEvent
from services.wire.lines import LineDecoder
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, EventSource, NeedData

DEFAULT_MAX_LINE = 2048
# The largest --max-line a server accepts.
MAX_LINE_LIMIT = 65536
# Server lines carry a client's (or the console's, up to 4096 bytes) line
# plus a prefix, a control character replaced by U+FFFD triples it, and
# lists of up to LIST_LIMIT names: the client accepts lines this long,
# what a server with the largest --max-line may send.
CLIENT_MAX_LINE = 3 * MAX_LINE_LIMIT + 64


class ServerProtocol(EventSource[ClientEvent]):
    """The server's end of one line-mode (or netlab-mode) chat connection."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._lines = LineDecoder(max_line)

    @property
    def max_line(self) -> int:
        return self._lines.max_line

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; ``b""`` at EOF."""
        self._lines.receive_data(data)

    def next_event(self) -> ClientEvent | NeedData | Closed:
        """The next client event; raises ``line-too-long`` / ``bad-encoding`` per bad line."""
        while True:
            line = self._lines.next_line()
            if line is NEED_DATA or line is CLOSED:
                return line
            assert isinstance(line, str)
            event = parse_client_line(line)
            if event is not None:
                return event

    @staticmethod
    def send(event: ServerEvent) -> bytes:
        return encode_server_event(event)


class ClientProtocol(EventSource[ServerEvent]):
    """The client's end of a chat connection (after the preface)."""

    def __init__(self, max_line: int = CLIENT_MAX_LINE) -> None:
        self._lines = LineDecoder(max_line)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; ``b""`` at EOF."""
        self._lines.receive_data(data)

    def next_event(self) -> ServerEvent | NeedData | Closed:
        """The next server event; raises :class:`RemoteProtocolError` on a bad line."""
        line = self._lines.next_line()
        if line is NEED_DATA or line is CLOSED:
            return line
        assert isinstance(line, str)
        return parse_server_line(line)

    @staticmethod
    def send(event: ClientEvent) -> bytes:
        return encode_client_event(event)
