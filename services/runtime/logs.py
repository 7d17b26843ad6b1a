"""Structured log lines: ``event=connect peer=127.0.0.1:5123 service=chat ...`` (logfmt)."""

from __future__ import annotations

import logging
import sys
import unicodedata
from typing import Any

LOGGER_NAME = "netlab"


# Characters a log reader could take for a line break, a terminal command or a
# hidden edit: C0 and C1 controls, DEL (Cc), format characters such as bidi
# overrides (Cf), and the Unicode line and paragraph separators (Zl, Zp).
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})
_NAMED = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    if unicodedata.category(char) not in _UNPRINTABLE:
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _quote(value: Any) -> str:
    """One logfmt value: quoted and escaped when it holds a space, ``=``, a quote or a control.

    Every non-printable character is escaped (``\\x1b``, ``\\u2028``), so a
    value can neither start a forged line nor hide or rewrite text on a
    terminal.
    """
    text = str(value)
    if text.isprintable():  # most fields: no per-character look needed
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    else:
        escaped = "".join(map(_escape_char, text))
    if text == "" or escaped != text or any(c in text for c in " ="):
        return f'"{escaped}"'
    return text


def format_fields(event: str, fields: dict[str, Any]) -> str:
    """Render one event and its fields as a logfmt line."""
    parts = [f"event={_quote(event)}"]
    parts.extend(f"{key}={_quote(value)}" for key, value in fields.items() if value is not None)
    return " ".join(parts)


def get_logger(service: str) -> logging.Logger:
    """The logger of one service (``netlab.chat``, ``netlab.exec``, ...)."""
    return logging.getLogger(f"{LOGGER_NAME}.{service}")


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """Log one structured event."""
    if logger.isEnabledFor(level):
        logger.log(level, format_fields(event, fields))


def configure_logging(level: str = "info") -> None:
    """Send netlab's log lines to stderr with a timestamp and level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    root = logging.getLogger(LOGGER_NAME)
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
