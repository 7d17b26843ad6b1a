"""Wait strategies: poll until truthy, transient errors mean "not yet", timeouts say why."""

from __future__ import annotations

import socket

import pytest

from lab.errors import StackError
from lab.readiness import Wait, port_accepts, wait_for_port


def test_wait_returns_the_first_truthy_result_after_transient_errors() -> None:
    answers = iter([ConnectionRefusedError("no"), None, 0, "ready"])

    def check() -> str | int | None:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert Wait(timeout=5, interval=0.001).until(check, "the answer") == "ready"


def test_a_timeout_names_what_was_awaited_and_the_last_error() -> None:
    def refuse() -> None:
        raise ConnectionRefusedError("refused")

    with pytest.raises(StackError, match=r"waiting for the thing \(last error: refused\)"):
        Wait(timeout=0.05, interval=0.01).until(refuse, "the thing")


def test_other_errors_are_not_swallowed() -> None:
    def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        Wait(timeout=1, interval=0.01).until(broken, "anything")


def test_wait_for_port_sees_a_listener() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        wait_for_port("127.0.0.1", port, Wait(timeout=5))
        assert port_accepts("127.0.0.1", port)
