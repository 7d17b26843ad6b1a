"""An echo upstream and a fault proxy in front of it, on loopback ports."""

from __future__ import annotations

from functools import partial

import trio

from lab.proxy.proxy import Proxy
from tests.support.waiting import wait_for


async def echo(stream: trio.SocketStream) -> None:
    try:
        while data := await stream.receive_some(65536):
            await stream.send_all(data)
        await stream.send_eof()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def start_echo(nursery: trio.Nursery) -> int:
    listeners = await nursery.start(partial(trio.serve_tcp, echo, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])


async def start_proxy(nursery: trio.Nursery, seed: int = 0) -> Proxy:
    proxy = Proxy("echo", ("127.0.0.1", await start_echo(nursery)), seed=seed)
    await nursery.start(proxy.run)
    return proxy


async def connect(proxy: Proxy) -> trio.SocketStream:
    assert proxy.port is not None
    return await trio.open_tcp_stream("127.0.0.1", proxy.port)


async def opened(proxy: Proxy, count: int) -> None:
    """Wait (bounded) until the proxy lists ``count`` connections."""
    await wait_for(lambda: len(proxy.connections) >= count)
