"""Click options shared by every server command, each also settable by a ``NETLAB_*`` env var.

The command only forwards what it parsed to its service's keyword-only
``run()`` (model: uvicorn's ``main.py``); nothing here builds objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from services.runtime.config import env_name

F = TypeVar("F", bound=Callable[..., Any])


def server_options(*, default_port: int) -> Callable[[F], F]:
    """Add the options every server shares (host, port, limits, timeouts, stats, logging)."""

    def option(name: str, **kwargs: Any) -> Callable[[F], F]:
        return click.option(f"--{name}", envvar=env_name(name), show_default=True, **kwargs)

    decorators = [
        option("host", default="127.0.0.1", help="Address to listen on (0.0.0.0 in containers)."),
        option("port", type=click.IntRange(0, 65535), default=default_port,
               help="Port to listen on; 0 picks a free one."),
        option("max-clients", type=click.IntRange(min=1), default=1000,
               help="Connections served at once; more are refused with a reason."),
        option("idle-timeout", type=click.FloatRange(min=0, min_open=True), default=300.0,
               help="Seconds a client may stay silent before it is disconnected."),
        option("send-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0,
               help="Seconds a client may leave our bytes unread before it is disconnected."),
        option("grace-period", type=click.FloatRange(min=0, min_open=True), default=5.0,
               help="Seconds in-flight work may take to finish after SIGTERM."),
        option("stats-port", type=click.IntRange(0, 65535), default=None,
               help="Serve a JSON line of the server's counters on this port."),
        option("log-level", type=click.Choice(["debug", "info", "warning", "error"]),
               default="info", help="Log verbosity (structured lines on stderr)."),
    ]

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply
