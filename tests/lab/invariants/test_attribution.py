"""Fault windows from the nemesis ops, and the fault each violation is blamed on."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from lab.invariants.attribution import (
    FaultWindow,
    attribute,
    blame,
    fault_windows,
    silenced_by,
)
from lab.invariants.violations import Violation
from tests.lab.invariants.builders import H, chat_life, fault

RESET = "reset_peer(service=chat)"
KILL = "kill(client=obs.chat-1,fleet=obs)"


def at(time: float | None) -> Violation:
    return Violation("chat.order", "x", time, "obs.chat-0")


def test_windows_pair_each_apply_with_its_revert() -> None:
    windows = fault_windows(H(fault(1, 2), fault(3, None, KILL, "container"), fault(4, 5)))
    assert [(w.label, w.applied, w.reverted) for w in windows] == [
        (RESET, 1, 2), (KILL, 3, math.inf), (RESET, 4, 5)]
    assert windows[1].family == "container" and windows[1].kind == "kill"


def test_a_failed_apply_still_opens_a_window() -> None:
    [window] = fault_windows(H(fault(1, 2, error="DockerException: gone")))
    assert window.failed and window.active_at(1.5)


def test_the_active_fault_is_blamed() -> None:
    history = H(fault(1, 3), fault(5, 8, KILL))
    assert [v.fault for v in attribute([at(2), at(6), at(1), at(8)], history)] == [
        RESET, KILL, RESET, KILL]


def test_after_its_window_the_last_reverted_fault_is_blamed() -> None:
    history = H(fault(1, 3), fault(5, 8, KILL))
    assert [v.fault for v in attribute([at(4), at(9), at(None)], history)] == [RESET, KILL, KILL]


def test_before_any_fault_nobody_is_blamed() -> None:
    assert [v.fault for v in attribute([at(0.5)], H(fault(1, 3)))] == ["none"]
    assert [v.fault for v in attribute([at(None)], H())] == ["none"]


def test_overlapping_faults_are_all_named() -> None:
    windows = fault_windows(H(fault(1, 5), fault(2, 3, KILL)))
    assert blame(windows, 2.5) == f"{RESET}, {KILL}"


def test_a_fault_named_by_the_checker_is_kept() -> None:
    named = Violation("chat.cutoff", "late", 9, "obs.chat-0", fault="latency(service=chat)")
    assert attribute([named], H(fault(1, 10)))[0].fault == "latency(service=chat)"


def test_a_window_knows_the_processes_it_hits() -> None:
    window = FaultWindow(KILL, "kill", "container", 1)
    assert window.target() == {"client": "obs.chat-1", "fleet": "obs"}
    assert window.hits("obs.chat-1") and window.hits("obs.upload-3")
    assert not window.hits("other.chat-1")
    assert not FaultWindow(RESET, "reset_peer", "stream", 1).hits("obs.chat-1")


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 20)), max_size=6), st.floats(0, 130))
def test_blame_names_exactly_the_active_faults_else_the_last_reverted(
        spans: list[tuple[float, float]], time: float) -> None:
    history = H(*(fault(start, start + length, f"f{i}(service=chat)")
                  for i, (start, length) in enumerate(spans)))
    windows = fault_windows(history)
    applied = sorted(range(len(spans)), key=lambda i: spans[i][0])  # H keeps ties in order
    active = [i for i in applied if spans[i][0] <= time <= sum(spans[i])]
    past = [i for i in applied if sum(spans[i]) < time]
    last = [i for i in past if sum(spans[i]) == max(sum(spans[j]) for j in past)]
    expected = ", ".join(f"f{i}(service=chat)" for i in active or last) or "none"
    assert blame(windows, time) == expected


def test_a_process_is_silenced_by_a_container_fault_after_which_it_wrote_nothing() -> None:
    kill = fault(5, 5.5, "kill-client(fleet=obs)", "container")
    quiet = H(chat_life("obs.chat-0", 1, 0, ending="open"), kill)
    assert silenced_by("obs.chat-0", quiet.ops, fault_windows(quiet)) is not None
    talking = H(chat_life("obs.chat-0", 1, 6, ending="disconnected"), kill)
    assert silenced_by("obs.chat-0", talking.ops, fault_windows(talking)) is None
    stream = H(chat_life("obs.chat-0", 1, 0, ending="open"), fault(5, 5.5, "reset-peer(fleet=obs)"))
    assert silenced_by("obs.chat-0", stream.ops, fault_windows(stream)) is None
