"""The control API end to end through lab.proxy.client, over loopback."""

from __future__ import annotations

import pytest
import trio

from lab.proxy.api import ControlAPI
from lab.proxy.client import ControlError, ProxyClient
from lab.proxy.guard import Guard, allowed_host
from lab.proxy.http import Request
from tests.support.proxies import start_echo
from tests.support.waiting import receive_exactly


async def start_api(nursery: trio.Nursery, token: str = "") -> ProxyClient:
    port = await nursery.start(ControlAPI(guard=Guard(token)).run)
    return ProxyClient("127.0.0.1", port, token=token)


async def raw(port: int, request: bytes) -> bytes:
    """One hand-written request; the whole answer."""
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(request)
        return await receive_exactly(stream, 4000)


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
        await stream.send_all(b"POST /proxies HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
                              b"Connection: close\r\n\r\n{{{")
        answer = await receive_exactly(stream, 1000)
    assert answer.startswith(b"HTTP/1.1 400") and b'"error"' in answer


@pytest.mark.parametrize(("token", "status"), [("", 401), ("wrong", 401), ("s3cret", 200)])
async def test_a_token_is_required_when_one_is_configured(
    nursery: trio.Nursery, token: str, status: int,
) -> None:
    server = await start_api(nursery, token="s3cret")
    client = ProxyClient("127.0.0.1", server.port, token=token)
    if status == 200:
        assert await client.proxies() == []
        return
    with pytest.raises(ControlError) as caught:
        await client.proxies()
    assert caught.value.status == 401


async def test_a_refused_token_is_challenged_with_bearer(nursery: trio.Nursery) -> None:
    client = await start_api(nursery, token="s3cret")
    answer = await raw(client.port, b"GET /proxies HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    b"Authorization: Bearer nope\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 401") and b"WWW-Authenticate: Bearer" in answer


async def test_a_request_from_a_web_page_is_refused_even_with_the_token(
    nursery: trio.Nursery,
) -> None:
    client = await start_api(nursery, token="s3cret")
    answer = await raw(client.port, b"POST /reset HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    b"Origin: http://evil.example\r\n"
                                    b"Authorization: Bearer s3cret\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403") and b"Origin" in answer


async def test_a_rebound_host_name_is_refused(nursery: trio.Nursery) -> None:
    client = await start_api(nursery)
    answer = await raw(client.port, b"GET /proxies HTTP/1.1\r\nHost: evil.example:8474\r\n"
                                    b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403")


@pytest.mark.parametrize(("host", "allowed"), [
    ("127.0.0.1:8474", True), ("localhost", True), ("LOCALHOST:1", True), ("gateway:8474", True),
    ("[::1]:8474", True), ("::1", True), ("10.1.2.3", True),
    ("evil.example", False), ("localhost.evil.example:8474", False), ("", False),
    ("127.0.0.1.nip.io", False),
])
def test_only_ip_literals_localhost_and_gateway_are_allowed_hosts(host: str, allowed: bool) -> None:
    assert allowed_host(host) is allowed


def test_the_guard_checks_origin_then_host_then_token() -> None:
    guard = Guard("t")

    def status(**headers: str) -> int | None:
        refused = guard.refusal(Request("GET", "/proxies", headers=headers))
        return None if refused is None else refused.status
    assert status(host="evil", origin="x") == 403
    assert status(host="evil") == 403
    assert status(host="localhost") == 401
    assert status(host="localhost", authorization="Bearer t") is None
    assert status(host="localhost", authorization="bearer t") is None
    assert status(host="localhost", authorization="Basic t") == 401
    assert "t" not in repr(guard)


async def test_a_connection_is_found_and_targeted_by_its_clients_address(
    nursery: trio.Nursery,
) -> None:
    client = await start_api(nursery)
    created = await client.create_proxy("echo", f"127.0.0.1:{await start_echo(nursery)}")
    port = int(created["listen"].rpartition(":")[2])
    async with await trio.open_tcp_stream("127.0.0.1", port) as other, \
            await trio.open_tcp_stream("127.0.0.1", port) as stream:
        for each in (other, stream):
            await each.send_all(b"hi")
            assert await receive_exactly(each, 2) == b"hi"
        peer = "{}:{}".format(*stream.socket.getsockname()[:2])
        (conn,) = await client.connections("echo", peer=peer)
        assert conn["peer"] == peer and conn["id"] == 2
        toxic = await client.add_toxic("echo", "limit_data", connection=peer, bytes=3)
        assert toxic["connection"] == 2
        await other.send_all(b"untouched")
        assert await receive_exactly(other, 9) == b"untouched"
        await stream.send_all(b"abcdef")
        assert await receive_exactly(stream, 10) == b"abc"
        with pytest.raises(ControlError) as caught:
            await client.connections("echo", peer="127.0.0.1:1")
        assert caught.value.status == 404


async def test_reset_removes_every_toxic_and_reseeds_every_proxy(nursery: trio.Nursery) -> None:
    client = await start_api(nursery)
    for name in ("a", "b"):
        await client.create_proxy(name, "127.0.0.1:9", seed=1)
        await client.add_toxic(name, "latency", latency=100)
    proxies = await client.reset(seed=42)
    assert [(p["seed"], p["toxics"]) for p in proxies] == [(42, []), (42, [])]
    await client.reset()
    assert [p["seed"] for p in await client.proxies()] == [42, 42]
    for bad in ({"seed": "x"}, {"seed": True}, {"colour": 1}, [1]):
        with pytest.raises(ControlError) as caught:
            await client.request("POST", "/reset", bad)
        assert caught.value.status == 400
