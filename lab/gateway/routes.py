"""What the gateway forwards: ``[NAME@]LISTEN=HOST:PORT`` routes and where the host sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.errors import InvalidAddress
from lab.proxy.address import parse_host_port, parse_port

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class RouteError(ValueError):
    """A ``--route`` or ``--public`` value that does not parse."""


def _listen_host_port(text: str, what: str, target: str) -> tuple[int, str, int]:
    """``LISTEN_PORT=HOST:PORT``: the listen port, then ``target``'s host and port."""
    listen, sep, address = text.partition("=")
    if not sep:
        raise RouteError(f"{what} {text!r} is not LISTEN_PORT=HOST:PORT")
    try:
        return (parse_port(listen, "listen port"),
                *parse_host_port(address, target))
    except InvalidAddress as exc:
        raise RouteError(str(exc)) from None


@dataclass(frozen=True)
class Route:
    """Connections to ``listen_port`` go to ``upstream_host:upstream_port``.

    ``name`` names the route's fault proxy in the control API and its
    counters; it is ``proxy_name`` when given, else the upstream's host name
    (the compose service: chat, exec, upload), which the banner also uses to
    suggest client commands.
    """

    listen_port: int
    upstream_host: str
    upstream_port: int
    proxy_name: str = ""

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise RouteError(f"route name {self.name!r}: letters, digits, '.', '_', '-'")

    @property
    def name(self) -> str:
        return self.proxy_name or self.upstream_host

    @classmethod
    def parse(cls, text: str) -> Route:
        """``8000=chat:8000``, or ``NAME@8000=chat:8000`` to name its proxy."""
        name, at, rest = text.rpartition("@")
        if at and not name:
            raise RouteError(f"route {text!r}: empty name before '@'")
        return cls(*_listen_host_port(rest, "route", "upstream"), proxy_name=name)


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
    duplicates = sorted({port for port in ports if port and ports.count(port) > 1})
    if duplicates:
        raise RouteError(f"listen port(s) used twice: {duplicates}")
    names = [route.name for route in routes]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise RouteError(f"route name(s) used twice: {twice} (name them: NAME@PORT=HOST:PORT)")
    unknown = sorted({p.listen_port for p in public} - set(ports))
    if unknown:
        raise RouteError(f"public address for port(s) without a route: {unknown}")
