"""The gateway server: one listener per route, each connection relayed upstream.

Built on netlab's runtime (``services.runtime.serve``): the same limits,
counters, logs and graceful shutdown as the lab's servers. The upstream is
resolved at each connection (Docker's DNS), so a restarted server is found
again; an unreachable upstream closes the client's connection after a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

import trio

from lab.gateway.banner import banner
from lab.gateway.pipe import relay
from lab.gateway.routes import PublicAddress, Route, check_routes
from services.runtime.config import ServerConfig
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import get_logger, log_event
from services.runtime.main import serve_stats, shutdown_on_signals
from services.runtime.serve import serve

logger = get_logger("gateway")


@dataclass(frozen=True, kw_only=True)
class GatewayConfig(ServerConfig):
    """Gateway settings; ``port`` is unused (each route has its own)."""

    routes: tuple[Route, ...] = ()
    public: tuple[PublicAddress, ...] = ()
    connect_timeout: float = 5.0
    idle_timeout: float = 900.0
    banner: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_routes(list(self.routes), list(self.public))
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")


@dataclass
class Gateway:
    """Relays every route of ``config``; ``counters`` cover all routes together."""

    config: GatewayConfig
    counters: Counters = field(default_factory=Counters)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    async def handle(self, route: Route, conn: PeerConnection) -> None:
        """Relay one accepted connection to ``route``'s upstream."""
        target = f"{route.upstream_host}:{route.upstream_port}"
        try:
            with trio.fail_after(self.config.connect_timeout):
                upstream = await trio.open_tcp_stream(route.upstream_host, route.upstream_port)
        except (OSError, trio.TooSlowError) as exc:
            self.counters.error("upstream-unreachable")
            self.counters.extra[f"{route.name}.unreachable"] += 1
            log_event(logger, "upstream-unreachable", level=logging.WARNING, peer=conn.peer,
                      route=route.name, upstream=target, error=str(exc) or type(exc).__name__)
            return
        self.counters.extra[f"{route.name}.connections"] += 1
        log_event(logger, "relay-open", peer=conn.peer, route=route.name, upstream=target)
        started = trio.current_time()
        result = await relay(conn.stream, upstream, idle_timeout=self.config.idle_timeout)
        self.counters.bytes_in += result.bytes_up
        self.counters.bytes_out += result.bytes_down
        if result.reason.endswith("reset"):
            self.counters.error(result.reason)
        log_event(logger, "relay-close", peer=conn.peer, route=route.name,
                  bytes_up=result.bytes_up, bytes_down=result.bytes_down,
                  seconds=f"{trio.current_time() - started:.3f}", reason=result.reason)

    async def serve(
        self, *, task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve every route until the lifecycle drains; reports the bound ports."""
        stopped = 0

        async def one(route: Route, *, task_status: trio.TaskStatus[int]) -> None:
            nonlocal stopped
            config = ServerConfig(
                host=self.config.host, port=route.listen_port,
                max_clients=self.config.max_clients, idle_timeout=self.config.idle_timeout,
                send_timeout=self.config.send_timeout, grace_period=self.config.grace_period,
            )
            await serve(partial(self.handle, route), config, counters=self.counters,
                        lifecycle=self.lifecycle, logger=logger, task_status=task_status)

        # ``serve`` sets lifecycle.stopped when *it* returns; with several
        # routes the gateway has stopped only when the nursery is done.
        async with trio.open_nursery() as nursery:
            ports = [await nursery.start(partial(one, route)) for route in self.config.routes]
            task_status.started(ports)


async def run_gateway(
    config: GatewayConfig,
    *,
    gateway: Gateway | None = None,
    task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the gateway as a process: signals, stats port, banner; returns after shutdown."""
    gateway = gateway or Gateway(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            shutdown_on_signals, gateway.lifecycle, logger, nursery.cancel_scope
        )
        if config.stats_port is not None:
            await nursery.start(partial(
                serve_stats, gateway.counters, host=config.host, port=config.stats_port,
                logger=logger,
            ))
        ports = await nursery.start(_serve_then_stop, gateway, nursery.cancel_scope)
        log_event(logger, "gateway-ready",
                  routes=",".join(f"{p}={r.upstream_host}:{r.upstream_port}"
                                  for p, r in zip(ports, config.routes, strict=True)))
        if config.banner:
            print(banner(config.routes, config.public), flush=True)
        task_status.started(ports)


async def _serve_then_stop(
    gateway: Gateway,
    scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the routes; once they have drained, stop the helpers (signals, stats) too."""
    await gateway.serve(task_status=task_status)
    scope.cancel()
