"""``netlab chat``: what ``serve`` and ``client`` parse (model: uvicorn's tests/test_cli.py).

``serve`` is checked by patching ``main``: the config it would run is the
assertion; nothing listens.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result

from services.chat import cli as chat_cli
from services.chat.config import DEFAULT_PORT, ChatConfig
from services.chat.server import process_server
from services.runtime.retry import Backoff
from tests.support.commands import recorded_main

Ran = list[ChatConfig]


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> Ran:
    """The configs ``serve`` would run (with the console on stdio), instead of running them."""
    return recorded_main(monkeypatch, chat_cli, process_server)


def serve(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(chat_cli.cli, ["serve", *args], env=env)


def test_serve_defaults_are_the_configs_on_the_chat_port(ran: Ran) -> None:
    result = serve()
    assert result.exit_code == 0, result.output
    assert ran == [ChatConfig(port=DEFAULT_PORT)]


def test_serve_options_and_env_vars_reach_the_config(ran: Ran) -> None:
    result = serve(
        "--port", "9", "--max-line", "100", "--queue-size", "8", "--classic-window", "0.5",
        "--max-rate", "20", "--notice-limit", "5", "--no-console",
        env={"NETLAB_IDLE_TIMEOUT": "7", "NETLAB_STATS_PORT": "9100", "NETLAB_HOST": "0.0.0.0"},
    )
    assert result.exit_code == 0, result.output
    assert ran == [ChatConfig(
        host="0.0.0.0", port=9, max_line=100, queue_size=8, classic_window=0.5, max_rate=20.0,
        notice_limit=5, console=False, idle_timeout=7.0, stats_port=9100,
    )]


def test_the_console_is_also_switched_off_by_its_env_var(ran: Ran) -> None:
    assert serve(env={"NETLAB_CONSOLE": "false"}).exit_code == 0
    assert ran[0].console is False


@pytest.mark.parametrize("args", [
    ["--max-line", "8"], ["--port", "http"], ["--classic-window", "0"], ["--log-level", "loud"],
])
def test_a_bad_value_is_a_usage_error(ran: Ran, args: list[str]) -> None:
    result = serve(*args)
    assert (result.exit_code, ran) == (2, [])


def test_the_process_server_has_a_console_only_if_asked() -> None:
    assert process_server(ChatConfig(console=True)).console is not None
    assert process_server(ChatConfig(console=False)).console is None


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
