"""The control API end to end through lab.proxy.client, over loopback."""

from __future__ import annotations

import pytest
import trio

from lab.proxy.api import ControlAPI
from lab.proxy.client import ControlError, ProxyClient
from tests.support.proxies import start_echo
from tests.support.waiting import receive_exactly


async def start_api(nursery: trio.Nursery) -> ProxyClient:
    port = await nursery.start(ControlAPI().run)
    return ProxyClient("127.0.0.1", port)


async def test_a_proxy_and_its_toxics_are_driven_through_the_client(
    nursery: trio.Nursery,
) -> None:
    client = await start_api(nursery)
    echo_port = await start_echo(nursery)
    created = await client.create_proxy("echo", f"127.0.0.1:{echo_port}", seed=3)
    port = int(created["listen"].rpartition(":")[2])
    assert port and [p["name"] for p in await client.proxies()] == ["echo"]
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(b"hi")
        assert await receive_exactly(stream, 2) == b"hi"
        (conn,) = await client.connections("echo")
        toxic = await client.add_toxic("echo", "limit_data", name="cut", connection=conn["id"],
                                       bytes=3)
        assert toxic["attributes"] == {"bytes": 3}
        assert [t["name"] for t in await client.toxics("echo")] == ["cut"]
        await stream.send_all(b"abcdef")
        assert await receive_exactly(stream, 10) == b"abc"
    await client.remove_toxic("echo", "cut")
    assert await client.toxics("echo") == []


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/proxies/echo/toxics", {"type": "lightning"}, 400),
    ("POST", "/proxies/echo/toxics", {"type": "latency", "attributes": {"latency": -1}}, 400),
    ("GET", "/proxies/nowhere/toxics", None, 404),
    ("DELETE", "/proxies/echo/toxics/none", None, 404),
    ("POST", "/proxies", {"name": "echo", "upstream": "127.0.0.1:9"}, 409),
    ("PUT", "/proxies", None, 405),
])
async def test_a_bad_request_gets_a_json_error_with_its_status(
    nursery: trio.Nursery, method: str, path: str, body: object, status: int,
) -> None:
    client = await start_api(nursery)
    await client.create_proxy("echo", "127.0.0.1:9")
    with pytest.raises(ControlError) as caught:
        await client.request(method, path, body)
    assert caught.value.status == status and caught.value.message


async def test_a_body_that_is_not_json_is_a_400(nursery: trio.Nursery) -> None:
    port = await nursery.start(ControlAPI().run)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(b"POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                              b"Connection: close\r\n\r\n{{{")
        answer = await receive_exactly(stream, 1000)
    assert answer.startswith(b"HTTP/1.1 400") and b'"error"' in answer
