"""``netlab chat serve`` as a real process, and the CLI's parsing."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from services.chat import cli as chat_cli
from services.chat.client import Backoff
from services.chat.config import ChatConfig
from services.chat.events import ChatCode, Error, Message
from tests.support.peers import LinePeer as Peer
from tests.support.peers import joined

LISTENING = re.compile(rb"event=listening host=\S+ port=(\d+)")


async def test_sigterm_tells_clients_and_exits_zero() -> None:
    command = [sys.executable, "-m", "services.chat", "serve", "--port", "0",
               "--grace-period", "3"]
    process = await trio.lowlevel.open_process(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    log = b""
    try:
        with trio.fail_after(10):
            while not (match := LISTENING.search(log)):
                chunk = await process.stderr.receive_some(4096)
                assert chunk, log.decode()
                log += chunk
        port = int(match.group(1))
        alice = await joined(port, "alice")
        classic = await Peer.connect(port, preface=False)
        await classic.send(b"tutorial says hi")
        assert await alice.expect(Message) == Message("lobby", "guest-2", "tutorial says hi")
        process.send_signal(signal.SIGTERM)
        assert (await alice.drain())[-1].code == ChatCode.SERVER_SHUTDOWN  # type: ignore[union-attr]
        assert await classic.drain() == [
            Error(ChatCode.SERVER_SHUTDOWN, "server is shutting down (SIGTERM)")
        ]
        with trio.fail_after(10):
            status = await process.wait()
            while chunk := await process.stderr.receive_some(4096):
                log += chunk
        assert status == 0, log.decode()
        assert b"event=clients-told count=2" in log
        assert b"tasks_open=0" in log
        for peer in (alice, classic):
            await peer.aclose()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stderr.aclose()


def test_serve_forwards_options_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ChatConfig] = []
    monkeypatch.setattr("services.chat.server.main", seen.append)
    result = CliRunner().invoke(
        chat_cli.cli,
        ["serve", "--port", "9", "--max-line", "100", "--queue-size", "8",
         "--classic-window", "0.5", "--max-rate", "20", "--notice-limit", "5",
         "--no-console"],
        env={"NETLAB_IDLE_TIMEOUT": "7"},
    )
    assert result.exit_code == 0, result.output
    [config] = seen
    assert (config.port, config.max_line, config.queue_size, config.classic_window) == (
        9, 100, 8, 0.5
    )
    assert config.console is False
    assert config.max_rate == 20.0
    assert config.notice_limit == 5
    assert config.idle_timeout == 7.0


def test_client_forwards_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> int:
        seen.append(kwargs)
        return 0

    monkeypatch.setattr(chat_cli, "run_client", fake)
    result = CliRunner().invoke(
        chat_cli.cli,
        ["client", "--port", "18000", "--nick", "al", "--attempts", "3", "--backoff", "0.1"],
    )
    assert result.exit_code == 0, result.output
    assert seen == [{
        "host": "127.0.0.1", "port": 18000, "nick": "al", "room": None,
        "backoff": Backoff(attempts=3, initial=0.1, max_delay=5.0),
    }]
