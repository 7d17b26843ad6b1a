"""Triggers fire at a time or at a protocol point, once, from ops fed one by one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.history import Op
from lab.triggers import (
    TRIGGERS,
    AfterOps,
    AtProgress,
    AtTime,
    Trigger,
    TriggerState,
    WhileStreaming,
    trigger_from_json,
)


def op(f: str, process: str = "obs.chat-0", type: Any = "info", **value: Any) -> Op:
    return Op(0.0, process, type, f, value)


def firings(trigger: Trigger, feed: Sequence[tuple[Op | None, float]]) -> list[int]:
    """The indexes of ``feed`` at which ``trigger`` fires."""
    state = TriggerState(trigger)
    return [i for i, (o, elapsed) in enumerate(feed) if state.feed(o, elapsed)]


def test_at_time_fires_once_when_the_time_has_come() -> None:
    feed: list[tuple[Op | None, float]] = [(None, 0.5), (op("recv"), 1.9), (None, 2.0),
                                           (None, 2.5)]
    assert firings(AtTime(2.0), feed) == [2]
    assert AtTime(2.0).due() == 2.0


def test_after_ops_counts_matching_ops_only() -> None:
    trigger = AfterOps("recv", 3, process_prefix="obs.chat-1")
    feed: list[tuple[Op | None, float]] = [
        (op("recv", "obs.chat-1"), 1), (op("recv", "obs.chat-0"), 2), (op("send", "obs.chat-1"), 3),
        (None, 4), (op("recv", "obs.chat-1"), 5), (op("recv", "obs.chat-1"), 6),
        (op("recv", "obs.chat-1"), 7)]
    assert firings(trigger, feed) == [5]
    assert trigger.due() is None


def test_after_ops_can_count_one_type() -> None:
    feed: list[tuple[Op | None, float]] = [
        (op("send", type="invoke"), 1), (op("send", type="ok"), 2), (op("send", type="invoke"), 3)]
    assert firings(AfterOps("send", 2, type="invoke"), feed) == [2]
    assert firings(AfterOps("send", 2), feed) == [1]


def test_at_progress_fires_at_the_fraction() -> None:
    def progress(offset: int, process: str = "obs.upload-0") -> tuple[Op, float]:
        return op("progress", process, op="o", name="n", offset=offset, size=1000), 1.0

    feed = [progress(300), progress(600, "other.upload-0"), progress(499), progress(500),
            progress(700)]
    assert firings(AtProgress(0.5, process_prefix="obs."), feed) == [3]
    assert firings(AtProgress(0.5), [(op("progress", offset=5, size=0), 1.0)]) == []


def test_while_streaming_fires_at_the_first_output() -> None:
    feed: list[tuple[Op | None, float]] = [
        (op("run", "obs.exec-0", "invoke"), 1), (op("output", "obs.exec-0", bytes=7), 2),
        (op("output", "obs.exec-0", bytes=7), 3)]
    assert firings(WhileStreaming(), feed) == [1]
    assert firings(WhileStreaming(process_prefix="obs.exec-1"), feed) == []


def test_the_state_remembers_when_and_why() -> None:
    state = TriggerState(AfterOps("recv", 1))
    cause = op("recv")
    assert not state.feed(None, 1.0)
    assert state.feed(cause, 2.0)
    assert (state.fired, state.fired_at, state.cause) == (True, 2.0, cause)
    assert not state.feed(cause, 3.0)


@pytest.mark.parametrize("trigger", [
    AtTime(2.5), AfterOps("recv", 30), AfterOps("send", 2, "obs.chat-1", "ok"),
    AtProgress(0.4), AtProgress(1.0, "obs.upload-1"), WhileStreaming(),
    WhileStreaming("obs.exec-0")])
def test_triggers_round_trip_through_json(trigger: Trigger) -> None:
    assert trigger_from_json(trigger.to_json()) == trigger
    assert trigger.to_json()["kind"] in TRIGGERS
    assert trigger.describe()


def test_descriptions_read_as_english() -> None:
    assert AtTime(2).describe() == "at 2 s"
    assert AfterOps("recv", 30, "obs.").describe() == "after 30 recv ops of obs.*"
    assert AtProgress(0.5).describe() == "at 50% of an upload"


@pytest.mark.parametrize("make", [
    lambda: AtTime(-1), lambda: AfterOps("recv", 0), lambda: AtProgress(0),
    lambda: AtProgress(1.5), lambda: AfterOps("recv", 1, type="maybe")])  # type: ignore[arg-type]
def test_nonsense_settings_are_refused(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


def test_an_unknown_trigger_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown trigger 'never'"):
        trigger_from_json({"kind": "never"})


@given(st.lists(st.sampled_from(["recv", "send", "output"]), max_size=40),
       st.integers(min_value=1, max_value=10))
def test_after_ops_fires_at_most_once_exactly_at_the_count(fs: list[str], count: int) -> None:
    fired = firings(AfterOps("recv", count), [(op(f), float(i)) for i, f in enumerate(fs)])
    recvs = [i for i, f in enumerate(fs) if f == "recv"]
    assert fired == ([recvs[count - 1]] if len(recvs) >= count else [])
