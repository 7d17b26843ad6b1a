"""Stream faults against an in-process control API and proxy: a toxic for the fault's window."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import trio

from lab.errors import FaultError
from lab.faults.base import Target, applied
from lab.faults.stream import Latency, LimitData, ResetPeer
from lab.history import History
from lab.proxy.api import ControlAPI
from lab.proxy.client import ControlError, ProxyClient
from tests.support.proxies import start_echo
from tests.support.waiting import receive_exactly


@dataclass
class ProxyOnly:
    """The part of a FaultContext stream faults use: the control API and the peers."""

    client: ProxyClient
    peers: dict[str, str] = field(default_factory=dict)

    async def proxy_request(self, method: str, path: str, body: Any = None) -> Any:
        return await self.client.request(method, path, body)

    def peer_of(self, client: str) -> str | None:
        return self.peers.get(client)


async def start_lab_proxy(nursery: trio.Nursery) -> tuple[ProxyOnly, int]:
    """A control API with a proxy named ``chat`` in front of an echo server; its port."""
    client = ProxyClient("127.0.0.1", await nursery.start(ControlAPI().run))
    created = await client.create_proxy("chat", f"127.0.0.1:{await start_echo(nursery)}")
    return ProxyOnly(client), int(created["listen"].rpartition(":")[2])


async def toxics(ctx: ProxyOnly) -> list[dict[str, Any]]:
    return list(await ctx.client.toxics("chat"))


async def test_a_stream_fault_adds_its_toxic_for_the_window_and_removes_it(
    nursery: trio.Nursery,
) -> None:
    ctx, _ = await start_lab_proxy(nursery)
    fault = Latency(target=Target(service="chat"), latency=30, jitter=5, stream="both")
    history = History()
    async with applied(fault, ctx, history) as details:
        (toxic,) = await toxics(ctx)
        assert toxic == {"name": fault.toxic_name, "type": "latency", "stream": "both",
                         "toxicity": 1.0, "connection": None,
                         "attributes": {"latency": 30, "jitter": 5}}
        assert details == {"proxy": "chat", "toxic": fault.toxic_name, "connection": None,
                           "peer": None}
    assert await toxics(ctx) == []
    assert [op.f for op in history] == ["fault-apply", "fault-revert"]


async def test_a_revert_after_the_toxic_went_is_fine(nursery: trio.Nursery) -> None:
    ctx, _ = await start_lab_proxy(nursery)
    fault = Latency(target=Target(service="chat"))
    await fault.revert(ctx)
    await fault.apply(ctx)
    await fault.revert(ctx)
    await fault.revert(ctx)
    assert await toxics(ctx) == []


async def test_a_fault_on_one_client_hits_that_clients_connection_only(
    nursery: trio.Nursery,
) -> None:
    ctx, port = await start_lab_proxy(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as victim, \
            await trio.open_tcp_stream("127.0.0.1", port) as bystander:
        host, local_port = victim.socket.getsockname()[:2]
        ctx.peers["observers.chat-0"] = f"{host}:{local_port}"
        for stream in (victim, bystander):  # an echo each: both relayed, so both listed
            await stream.send_all(b".")
            assert await receive_exactly(stream, 1) == b"."
        fault = LimitData(target=Target(service="chat", client="observers.chat-0"), bytes=3)
        details = await fault.apply(ctx)
        try:
            assert details["peer"] == f"{host}:{local_port}"
            (toxic,) = await toxics(ctx)
            assert toxic["connection"] == details["connection"]
            await victim.send_all(b"abcdef")
            assert await receive_exactly(victim, 6) == b"abc"
            await bystander.send_all(b"abcdef")
            assert await receive_exactly(bystander, 6) == b"abcdef"
        finally:
            await fault.revert(ctx)


async def test_a_fault_on_a_client_that_has_not_connected_fails_to_apply(
    nursery: trio.Nursery,
) -> None:
    ctx, _ = await start_lab_proxy(nursery)
    with pytest.raises(FaultError, match="has not connected"):
        await ResetPeer(target=Target(service="chat", client="x.chat-9")).apply(ctx)
    with pytest.raises(FaultError, match=r"no open connection from 10\.9\.9\.9:1"):
        await ResetPeer(target=Target(service="chat", connection="10.9.9.9:1")).apply(ctx)
    assert await toxics(ctx) == []


async def test_a_route_without_a_proxy_fails_the_apply_and_not_the_revert(
    nursery: trio.Nursery,
) -> None:
    ctx, _ = await start_lab_proxy(nursery)
    fault = Latency(target=Target(service="upload"))  # no such proxy: 404 on the proxy
    await fault.revert(ctx)
    with pytest.raises(ControlError):
        await fault.apply(ctx)
