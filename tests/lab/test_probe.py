"""lab probe: each server serves a new client end to end, and its counters once settled."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path

import trio
from click.testing import CliRunner

from lab.probe import cli, parse_address, probe, read_stats, serves, settled_stats
from services.runtime.counters import Counters
from services.runtime.main import serve_stats
from tests.support.ports import free_port
from tests.support.servers import HOST, start_chat, start_exec, start_upload

LOGGER = logging.getLogger("netlab.test")


async def stats_port(nursery: trio.Nursery, counters: Counters) -> int:
    port: int = await nursery.start(partial(serve_stats, counters, host=HOST, port=0,
                                            logger=LOGGER))
    return port


async def test_every_server_serves_a_new_client_and_shows_its_counters(
        nursery: trio.Nursery, tmp_path: Path) -> None:
    chat = await start_chat(nursery)
    ex = await start_exec(nursery, sandbox_uids="off")
    up = await start_upload(nursery, tmp_path / "up")
    stats = {name: (HOST, await stats_port(nursery, handle.counters))
             for name, handle in (("chat", chat), ("exec", ex), ("upload", up))}
    result = await probe({"chat": (HOST, chat.port), "exec": (HOST, ex.port),
                          "upload": (HOST, up.port)},
                         token=ex.token, stats=stats, settle=2.0)
    assert json.loads(json.dumps(result)) == result
    for name in ("chat", "exec", "upload"):
        assert result["serves"][name]["ok"] is True
        assert result["serves"][name]["error"] is None
        assert 0 < result["serves"][name]["seconds"] < 5
        assert result["stats"][name]["connections_total"] >= 1
        assert result["stats"][name]["connections_open"] == 0  # the probe's own are closed


async def test_a_server_that_does_not_serve_is_reported_with_its_error(
        nursery: trio.Nursery) -> None:
    ex = await start_exec(nursery, sandbox_uids="off")
    wrong = await serves("exec", (HOST, ex.port), token="wrong", timeout=5)
    assert not wrong.ok and wrong.error is not None and "auth-failed" in wrong.error
    nobody = await serves("chat", (HOST, free_port()), timeout=5)
    assert not nobody.ok and nobody.error


async def test_a_silent_server_fails_within_the_timeout(nursery: trio.Nursery) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    listeners = await nursery.start(partial(trio.serve_tcp, silent, 0, host=HOST))
    served = await serves("upload", (HOST, listeners[0].socket.getsockname()[1]), timeout=0.5)
    assert not served.ok and served.error == "no complete exchange within 0.5 s"
    assert served.seconds < 2


async def test_an_unreachable_stats_port_is_null() -> None:
    assert await read_stats((HOST, free_port()), timeout=2) is None


async def test_settling_waits_for_open_connections_to_reach_the_baseline(
        nursery: trio.Nursery) -> None:
    chat = await start_chat(nursery)
    address = (HOST, await stats_port(nursery, chat.counters))
    held = await trio.open_tcp_stream(HOST, chat.port)

    async def close_later() -> None:
        await trio.sleep(0.8)
        await held.aclose()

    nursery.start_soon(close_later)
    start = trio.current_time()
    counters = await settled_stats({"chat": address}, settle=5.0, baseline={"chat": 0})
    assert 0.7 < trio.current_time() - start < 4.5
    assert counters["chat"] is not None and counters["chat"]["connections_open"] == 0


def test_parse_address_takes_host_and_port() -> None:
    assert parse_address("gateway:8000") == ("gateway", 8000)
    assert parse_address("[::1]:80") == ("::1", 80)


def test_lab_probe_prints_its_json_and_exits_0() -> None:
    port = free_port()
    result = CliRunner().invoke(cli, ["--chat", f"{HOST}:{port}", "--stats",
                                      f"chat={HOST}:{port}", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["serves"]["chat"]["ok"] is False
    assert data["stats"] == {"chat": None}
    assert CliRunner().invoke(cli, ["--chat", "nowhere"]).exit_code == 2
    assert CliRunner().invoke(cli, ["--stats", "x"]).exit_code == 2
