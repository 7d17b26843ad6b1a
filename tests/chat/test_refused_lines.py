"""Refused lines: paced like any line, logged a few times, and a flood of them disconnects."""

from __future__ import annotations

import contextlib
import logging

import pytest
import trio

from services.chat.errorbudget import LOGGED_ERRORS, ErrorBudget, Verdict
from services.chat.events import ChatCode, Error, Message, WhoList
from tests.support.peers import joined
from tests.support.servers import StartChat
from tests.support.waiting import wait_for

FLOOD = 30_000


def test_the_first_refusals_are_logged_then_muted_then_quiet() -> None:
    budget = ErrorBudget(burst=100)
    verdicts = [budget.record(0.0) for _ in range(LOGGED_ERRORS + 3)]
    assert verdicts == [Verdict.LOG] * LOGGED_ERRORS + [Verdict.MUTE] + [Verdict.QUIET] * 2


def test_the_budget_closes_past_its_burst_and_refills_with_time() -> None:
    budget = ErrorBudget(burst=3)
    assert [budget.record(0.0) for _ in range(3)] != [Verdict.CLOSE] * 3
    assert budget.record(0.0) is Verdict.CLOSE
    slow = ErrorBudget(burst=3)
    # One refusal a second, forever: a person's typos never run out of budget.
    assert all(slow.record(float(t)) is not Verdict.CLOSE for t in range(100))


def test_no_budget_never_closes() -> None:
    budget = ErrorBudget(burst=0)
    assert all(budget.record(0.0) is not Verdict.CLOSE for _ in range(1000))


@pytest.mark.parametrize(
    "bad_line", [b"\xff\n", b"/nosuchcommand\n", b"x" * 100 + b"\n"],
    ids=["bad-encoding", "unknown-command", "line-too-long"],
)
async def test_a_flood_of_bad_lines_is_logged_a_few_times_and_disconnected(
    start_server: StartChat, caplog: pytest.LogCaptureFixture, bad_line: bytes
) -> None:
    server = await start_server(max_line=64)
    peer = await joined(server.port, "flood")
    with caplog.at_level(logging.INFO, logger="netlab"):
        # One write; the server may close before it has taken all of it.
        with contextlib.suppress(trio.BrokenResourceError):
            await peer.send(bad_line * FLOOD)
        events = await peer.drain()
        await peer.aclose()
        await wait_for(lambda: server.counters.tasks_open == 0)
    errors = [e for e in events if isinstance(e, Error)]
    assert len(errors) <= server.config.max_errors + 1
    if errors[-1].code == ChatCode.TOO_MANY_ERRORS:  # unless the reset overtook it
        assert errors[-1].message.endswith("refused lines; disconnected")
    assert server.counters.errors_by_reason[ChatCode.TOO_MANY_ERRORS] == 1
    flood_lines = [r for r in caplog.records if "flood" in r.getMessage()
                   or "protocol-error" in r.getMessage()]
    assert len(flood_lines) <= LOGGED_ERRORS + 4  # rename, errors, muted, too-many, leave
    assert sum("event=too-many-errors" in r.getMessage() for r in caplog.records) == 1


async def test_refused_lines_count_against_the_rate(start_server: StartChat) -> None:
    server = await start_server(max_rate=10, max_errors=0)
    peer = await joined(server.port, "eager")
    listener = await joined(server.port, "ear")
    await peer.send(b"\xff\n" * 30 + b"done\n")
    assert await listener.expect(Message) == Message("lobby", "eager", "done")
    assert server.counters.extra["throttled"] >= 10
    for client in (peer, listener):
        await client.aclose()


async def test_a_person_mistyping_now_and_then_stays(start_server: StartChat) -> None:
    server = await start_server()
    peer = await joined(server.port, "typo")
    for _ in range(server.config.max_errors):
        await peer.send(b"/hepl\n")
        assert (await peer.expect(Error)).code == ChatCode.UNKNOWN_COMMAND
    await peer.send(b"/who\n")
    assert await peer.expect(WhoList) == WhoList("lobby", 1, ("typo",))
    assert server.counters.errors_by_reason[ChatCode.TOO_MANY_ERRORS] == 0
    await peer.aclose()
