"""``lab bench-load scale`` on loopback, small: idle connections held, then round trips."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from lab.bench import scale_load
from lab.bench.chat_lines import Dialect
from lab.bench.scale_load import ScaleLoad, hold_until_stdin_closes, run_scale, still_quiet
from tests.lab.bench.chat_servers import asyncio_chat_server, threaded_chat
from tests.support.servers import start_chat
from tests.support.waiting import wait_for


async def test_netlab_holds_the_idle_clients_while_the_host_looks(nursery: trio.Nursery) -> None:
    chat = await start_chat(nursery)
    seen: list[tuple[dict[str, Any], int]] = []

    async def hold(state: dict[str, Any]) -> None:
        await wait_for(lambda: chat.counters.connections_open >= 40, timeout=10)
        seen.append((state, chat.counters.connections_open))

    result = await run_scale(ScaleLoad(host=chat.host, port=chat.port, dialect=Dialect.NETLAB,
                                       idle=40, rate=40, seconds=0.5), hold)
    assert seen == [({"event": "holding", "idle": 40, "connect_s": seen[0][0]["connect_s"]}, 40)]
    assert result["idle"] == 40 and result["idle_quiet_at_end"] == 40
    assert result["pings"] == 20 and result["echoes"] == 20 and result["lost"] == 0
    assert 0 < result["rtt_ms"]["p50"] <= result["rtt_ms"]["p99"]
    assert result["active_ended"] == []


@pytest.mark.parametrize("server", [threaded_chat, asyncio_chat_server],
                         ids=["threaded", "asyncio"])
async def test_the_baselines_echo_through_silent_crowds(server: Any) -> None:
    async def hold(state: dict[str, Any]) -> None:
        await trio.lowlevel.checkpoint()

    with server() as port:
        result = await run_scale(ScaleLoad(host="127.0.0.1", port=port, dialect=Dialect.NICK,
                                           idle=30, rate=40, seconds=0.5), hold)
    assert result["idle_quiet_at_end"] == 30
    assert result["echoes"] == result["pings"] == 20


async def test_a_connection_with_something_to_read_is_not_quiet() -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    quiet = await trio.open_tcp_stream("127.0.0.1", port)
    noisy = await trio.open_tcp_stream("127.0.0.1", port)
    accepted = [(await listener.accept())[0] for _ in range(2)]
    await accepted[1].send(b"x")
    await trio.sleep(0.1)
    assert still_quiet([quiet, noisy]) == 1
    for sock in accepted:
        sock.close()
    listener.close()
    await quiet.aclose()
    await noisy.aclose()


async def test_the_hold_prints_the_state_and_ends_at_eof(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str],
                                                         ) -> None:
    read_end, write_end = os.pipe()
    stdin = io.TextIOWrapper(io.FileIO(read_end, closefd=True))
    monkeypatch.setattr("sys.stdin", stdin)
    os.write(write_end, b"anything\n")
    os.close(write_end)
    with stdin, trio.fail_after(5):
        await hold_until_stdin_closes(60)({"event": "holding", "idle": 3})
    assert json.loads(capsys.readouterr().out) == {"event": "holding", "idle": 3}


def test_the_command_passes_its_options_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ScaleLoad] = []

    async def fake(load: ScaleLoad, hold: Any) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        seen.append(load)
        return {"done": 1}

    monkeypatch.setattr(scale_load, "run_scale", fake)
    result = CliRunner().invoke(scale_load.cli, ["--host", "s", "--idle", "12", "--seconds", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"done": 1}
    assert seen == [ScaleLoad(host="s", port=8000, dialect=Dialect.NETLAB, idle=12, seconds=2)]
