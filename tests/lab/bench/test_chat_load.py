"""``lab bench-load chat`` on loopback, small: paced and flooding clients against every server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from lab.bench import chat_load
from lab.bench.chat_lines import Dialect
from lab.bench.chat_load import ChatLoad, run_load
from tests.lab.bench.chat_servers import asyncio_chat_server, threaded_chat
from tests.support.servers import start_chat

Target = tuple[str, int, Dialect]


@asynccontextmanager
async def netlab_chat(nursery: trio.Nursery) -> AsyncIterator[Target]:
    handle = await start_chat(nursery)
    yield handle.host, handle.port, Dialect.NETLAB


@asynccontextmanager
async def baseline(start: Callable[[], AbstractContextManager[int]]) -> AsyncIterator[Target]:
    with start() as port:
        yield "127.0.0.1", port, Dialect.NICK


@pytest.fixture(params=["netlab", "threaded", "asyncio"])
async def target(request: pytest.FixtureRequest, nursery: trio.Nursery
                 ) -> AsyncIterator[Target]:
    opening = {"netlab": lambda: netlab_chat(nursery),
               "threaded": lambda: baseline(threaded_chat),
               "asyncio": lambda: baseline(asyncio_chat_server)}[request.param]
    async with opening() as found:
        yield found


def no_faults(result: dict[str, Any]) -> None:
    assert result["lost"] == 0 and result["reordered"] == 0
    assert result["received"] == result["expected"] > 0
    assert result["disconnected_clients"] == 0


async def test_paced_clients_deliver_every_line_in_order(target: Target) -> None:
    host, port, dialect = target
    result = await run_load(ChatLoad(host=host, port=port, dialect=dialect, clients=5,
                                     rate=20, seconds=0.5, drain=10))
    no_faults(result)
    assert result["sent"] == 5 * 10
    assert result["expected"] == 5 * 10 * 4
    assert result["latency_samples"] == result["expected"]
    assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]


async def test_flooding_clients_are_all_counted(target: Target) -> None:
    host, port, dialect = target
    result = await run_load(ChatLoad(host=host, port=port, dialect=dialect, clients=6,
                                     rate=0, seconds=0.5, check=3, drain=20))
    no_faults(result)
    assert result["checked_clients"] == 3
    assert result["sent"] > 0 and result["deliveries_per_s"] > 0


async def test_a_load_needs_two_clients() -> None:
    with pytest.raises(ValueError):
        ChatLoad(host="x", port=1, dialect=Dialect.NICK, clients=1)


def test_the_command_prints_one_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ChatLoad] = []

    async def fake(load: ChatLoad) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        seen.append(load)
        return {"ok": True}

    monkeypatch.setattr(chat_load, "run_load", fake)
    result = CliRunner().invoke(chat_load.cli, ["--host", "chat", "--dialect", "nick",
                                                "--clients", "7", "--rate", "0", "--check", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"ok": True}
    assert seen == [ChatLoad(host="chat", port=8000, dialect=Dialect.NICK, clients=7, rate=0,
                             seconds=10.0, check=2)]
