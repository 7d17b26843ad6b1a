"""Classic mode, sans-IO: the tutorial's chat client, where one ``recv`` is one message.

The tutorial's client sends each message with one ``send``, no newline, and
then blocks on one ``recv(1024)``. So the server reads at most
:data:`CLASSIC_RECV` bytes at a time and takes each read as one message, as
the tutorial's server does. TCP does not promise that: two quick sends can
arrive as one read and a long one as two. That is the lesson classic mode is
there to show, not something it can fix. (One thing it does fix: a UTF-8
character cut in two by the 1024-byte read is carried over to the next one.)

Bad input (bytes that are not UTF-8) closes the connection: a classic client
has no way to read an error line as an error.
"""

from __future__ import annotations

import codecs

from services.chat.grammar import sanitize
from services.wire.errors import ErrorCode, RemoteProtocolError

CLASSIC_RECV = 1024


class ClassicDecoder:
    """Turns each read from a classic client into its messages."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")

    def messages(self, chunk: bytes) -> list[str]:
        """The messages in one read (``b""``: EOF, a cut character is an error).

        A read holding line breaks (the tutorial never sends one, but glued
        reads or another program might) yields one message per line, so no
        message can forge a line of its own on other clients' screens.
        """
        try:
            text = self._utf8.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(
                ErrorCode.BAD_ENCODING, f"message is not valid UTF-8 ({exc.reason})"
            ) from None
        messages = []
        for part in text.split("\n"):
            part = part.removesuffix("\r")
            if part.strip():
                messages.append(sanitize(part))
        return messages
