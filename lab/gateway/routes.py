"""What the gateway forwards: ``LISTEN=HOST:PORT`` routes and where the host sees them."""

from __future__ import annotations

from dataclasses import dataclass


class RouteError(ValueError):
    """A ``--route`` or ``--public`` value that does not parse."""


def _port(text: str, what: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise RouteError(f"{what} {text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise RouteError(f"{what} {port} out of range 1-65535")
    return port


def _host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise RouteError(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), _port(port, f"{what} port")


def _listen_host_port(text: str, what: str, target: str) -> tuple[int, str, int]:
    """``LISTEN_PORT=HOST:PORT``: the listen port, then ``target``'s host and port."""
    listen, sep, address = text.partition("=")
    if not sep:
        raise RouteError(f"{what} {text!r} is not LISTEN_PORT=HOST:PORT")
    host, port = _host_port(address, target)
    return _port(listen, "listen port"), host, port


@dataclass(frozen=True)
class Route:
    """Connections to ``listen_port`` go to ``upstream_host:upstream_port``.

    ``name`` is the upstream's host name (the compose service: chat, exec,
    upload); the banner uses it to suggest client commands.
    """

    listen_port: int
    upstream_host: str
    upstream_port: int

    @property
    def name(self) -> str:
        return self.upstream_host

    @classmethod
    def parse(cls, text: str) -> Route:
        """``8000=chat:8000``."""
        return cls(*_listen_host_port(text, "route", "upstream"))


@dataclass(frozen=True)
class PublicAddress:
    """Where the host reaches a listen port (``8000=127.0.0.1:18000``), for the banner."""

    listen_port: int
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> PublicAddress:
        """``8000=127.0.0.1:18000``."""
        return cls(*_listen_host_port(text, "public address", "public address"))


def check_routes(routes: list[Route], public: list[PublicAddress]) -> None:
    """Refuse duplicate listen ports and public addresses of unknown routes."""
    ports = [route.listen_port for route in routes]
    if not routes:
        raise RouteError("at least one route is needed")
    duplicates = sorted({port for port in ports if ports.count(port) > 1})
    if duplicates:
        raise RouteError(f"listen port(s) used twice: {duplicates}")
    unknown = sorted({p.listen_port for p in public} - set(ports))
    if unknown:
        raise RouteError(f"public address for port(s) without a route: {unknown}")
