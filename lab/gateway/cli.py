"""``netlab gateway``: forward learner ports to the lab's servers.

Example (what compose.yaml runs)::

    netlab gateway --route 8000=chat:8000 --route 8001=exec:8000 \\
        --public 8000=127.0.0.1:8000 --public 8001=127.0.0.1:8001
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
import trio

from lab.gateway.routes import PublicAddress, Route, RouteError
from lab.gateway.server import GatewayConfig, run_gateway
from services.runtime.config import env_name
from services.runtime.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])


def _option(name: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(f"--{name}", envvar=env_name(f"gateway-{name}"), show_default=True,
                        **kwargs)


def _parse(kind: type[Route] | type[PublicAddress], values: tuple[str, ...]) -> tuple[Any, ...]:
    try:
        return tuple(kind.parse(value) for value in values)
    except RouteError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--route", "routes", multiple=True, required=True, metavar="PORT=HOST:PORT",
              help="Listen on PORT and forward to HOST:PORT (repeatable).")
@click.option("--public", "public", multiple=True, metavar="PORT=HOST:PORT",
              help="Where the host reaches listen PORT (for the banner; repeatable).")
@_option("host", default="127.0.0.1", help="Address the routes listen on (0.0.0.0 in containers).")
@_option("max-clients", type=click.IntRange(min=1), default=1000,
         help="Connections relayed at once per route.")
@_option("connect-timeout", type=click.FloatRange(min=0, min_open=True), default=5.0,
         help="Seconds to reach an upstream.")
@_option("idle-timeout", type=click.FloatRange(min=0, min_open=True), default=900.0,
         help="Seconds without a byte either way before a relay is closed.")
@_option("grace-period", type=click.FloatRange(min=0, min_open=True), default=1.0,
         help="Seconds open relays may continue after SIGTERM.")
@_option("stats-port", type=click.IntRange(0, 65535), default=None,
         help="Serve a JSON line of the gateway's counters on this port.")
@_option("log-level", type=click.Choice(["debug", "info", "warning", "error"]),
         default="info", help="Log verbosity.")
@click.option("--banner/--no-banner", default=True, help="Print how to connect at start.")
def cli(routes: tuple[str, ...], public: tuple[str, ...], **options: Any) -> None:
    """Forward learner ports to the lab's servers (the lab's front door)."""
    parsed_routes = _parse(Route, routes)
    parsed_public = _parse(PublicAddress, public)
    try:
        config = GatewayConfig(routes=parsed_routes, public=parsed_public, **options)
    except (RouteError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(config.log_level)
    trio.run(run_gateway, config)
