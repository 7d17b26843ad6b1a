"""``HOST:PORT`` as the gateway's options and the control API write it, parsed in one place.

A host is a name, an IPv4 literal or a bracketed IPv6 literal (``[::1]:8000``);
:func:`format_host_port` writes the same form back, so a peer address listed by
the API can be passed to it again as it is.
"""

from __future__ import annotations

from lab.errors import InvalidAddress


def parse_port(text: str, what: str, *, allow_zero: bool = False) -> int:
    """A port number 1-65535 (0 too with ``allow_zero``: "pick one")."""
    try:
        port = int(text)
    except ValueError:
        raise InvalidAddress(f"{what} {text!r} is not a port number") from None
    if not (0 if allow_zero else 1) <= port <= 65535:
        raise InvalidAddress(f"{what} {port} out of range {0 if allow_zero else 1}-65535")
    return port


def parse_host_port(text: object, what: str, *, allow_zero: bool = False) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as ``(host, port)``; :class:`InvalidAddress` otherwise."""
    if not isinstance(text, str):
        raise InvalidAddress(f"{what} must be HOST:PORT")
    host, sep, port = text.rpartition(":")
    if not sep or not host.strip("[]"):
        raise InvalidAddress(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), parse_port(port, f"{what} port", allow_zero=allow_zero)


def format_host_port(host: str, port: int) -> str:
    """The inverse of :func:`parse_host_port`: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
