"""``lab proxy``: fault proxies and their control API outside the gateway."""

from __future__ import annotations

import socket
from functools import partial

import pytest
import trio
from click.testing import CliRunner

from lab.errors import InvalidAddress
from lab.proxy.cli import ProxySpec, cli, run
from lab.proxy.client import ControlError, ProxyClient


def test_a_proxy_spec_names_listen_and_upstream() -> None:
    spec = ProxySpec.parse("mine=127.0.0.1:0=[::1]:9000")
    assert spec == ProxySpec("mine", ("127.0.0.1", 0), ("::1", 9000))


@pytest.mark.parametrize("text", ["mine", "mine=127.0.0.1:1", "=1.2.3.4:1=1.2.3.4:2",
                                  "mine=127.0.0.1:1=127.0.0.1:0"])
def test_a_bad_proxy_spec_is_refused(text: str) -> None:
    with pytest.raises(InvalidAddress):
        ProxySpec.parse(text)


def test_the_command_refuses_a_bad_spec_with_status_2() -> None:
    result = CliRunner().invoke(cli, ["--proxy", "nonsense"])
    assert result.exit_code == 2
    assert "NAME=LISTEN=UPSTREAM" in result.output


async def test_the_proxy_relays_and_its_toxics_switch_at_runtime(nursery: trio.Nursery) -> None:
    async def echo(stream: trio.SocketStream) -> None:
        async for data in stream:
            await stream.send_all(data)

    listeners = await nursery.start(partial(trio.serve_tcp, echo, 0, host="127.0.0.1"))
    upstream = listeners[0].socket.getsockname()[1]
    port, api = await nursery.start(partial(
        run, proxies=[ProxySpec("mine", ("127.0.0.1", 0), ("127.0.0.1", upstream))],
        control=("127.0.0.1", 0), seed=3, token="secret"))
    listen = api.proxies["mine"].port
    assert listen
    client = ProxyClient("127.0.0.1", port, token="secret")
    with pytest.raises(ControlError) as refused:
        await ProxyClient("127.0.0.1", port, token="wrong").proxies()
    assert refused.value.status == 401
    await client.add_toxic("mine", "limit_data", name="cut", stream="downstream", bytes=3)
    async with await trio.open_tcp_stream("127.0.0.1", listen) as stream:
        await stream.send_all(b"hello")
        received = b""
        with trio.fail_after(5):
            async for data in stream:
                received += data
    assert received == b"hel"
    await client.remove_toxic("mine", "cut")
    async with await trio.open_tcp_stream("127.0.0.1", listen) as stream:
        await stream.send_all(b"hello")
        with trio.fail_after(5):
            assert await stream.receive_some() == b"hello"
    nursery.cancel_scope.cancel()


def test_a_control_port_already_taken_is_one_line_and_status_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--control", f"127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert "cannot listen" in result.output and "Traceback" not in result.output
