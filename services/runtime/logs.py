"""Structured log lines: ``event=connect peer=127.0.0.1:5123 service=chat ...`` (logfmt)."""

from __future__ import annotations

import logging
import sys
from typing import Any

LOGGER_NAME = "netlab"


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t\\'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
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
