"""Recognising an HTTP request among a connection's first bytes, sans-IO.

Why: a web page open in the user's browser may send a request to any
address, 127.0.0.1 included (a cross-protocol attack). The browser writes the
whole request at once, and a server that reads plain text (classic exec runs
each line with ``sh -c``) would act on the lines of its headers and body. So,
as Redis's protected mode does, every classic port closes a connection whose
first bytes look like HTTP, before any of them is acted on.

What looks like HTTP: a first line ``METHOD TARGET HTTP/1.x`` (the method an
upper-case token), or a ``Host:`` header line anywhere in the first bytes.
No tutorial program sends either: ``echo GET /`` or a file named ``GET`` are
not requests, and neither is a first line ``GET`` with no ``HTTP/`` version.
"""

from __future__ import annotations

import re

HTTP_SNIFF_SIZE = 8 * 1024
"""How far into the first bytes a ``Host:`` line is looked for."""

_REQUEST_LINE = re.compile(rb"\A[A-Z]{3,16} [\x21-\x7e]+ HTTP/1\.[0-9]?\r?(?:\n|\Z)")
_HOST_LINE = re.compile(rb"(?:\A|\n)host:[ \t]*[^\s]", re.IGNORECASE)

REFUSAL = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: 29\r\n\r\nnetlab does not speak HTTP.\r\n"
)
"""What an HTTP client is answered before the connection closes."""


def looks_like_http(first_bytes: bytes) -> bool:
    """True if ``first_bytes`` (what a peer sent first) start an HTTP request."""
    head = first_bytes[:HTTP_SNIFF_SIZE]
    return bool(_REQUEST_LINE.match(head) or _HOST_LINE.search(head))
