"""The registry of invariants, check_all, and what a verdict promises."""

from __future__ import annotations

import pytest

from lab.invariants import CONCEPTS, INVARIANTS, check, check_all
from lab.invariants.violations import Verdict, Violation
from tests.lab.invariants.builders import H, chat_life, fault, recv

NAMES = ["chat.delivery", "chat.order", "chat.cutoff", "exec.at-most-once", "exec.intact",
         "exec.no-leftovers", "upload.complete-or-absent", "upload.resume",
         "all.serves-new-clients", "all.counters-baseline"]


def test_the_design_names_every_invariant_and_each_teaches_a_concept() -> None:
    assert list(INVARIANTS) == NAMES
    assert set(CONCEPTS) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_nothing_to_check_is_never_a_pass(name: str) -> None:
    verdict = check(name, H(), {})
    assert verdict.status == "unknown" and verdict.detail


@pytest.mark.parametrize("name", NAMES)
def test_missing_observations_are_never_a_pass(name: str) -> None:
    # Every kind of client present, every observation absent (a twin without stats, say).
    history = H(chat_life("o.chat-0", 1, 10, sends={0: 2}), chat_life("o.chat-1", 1, 10),
                recv(2.1, "o.chat-1", "o.chat-0", 0), fault(3, 4),
                (1, "o.exec-0", "invoke", "run", {"op": "o.exec-0/0", "expect": {"status": 0}}),
                (2, "o.exec-0", "ok", "run", {"op": "o.exec-0/0", "status": 0}),
                (1, "o.upload-0", "invoke", "put", {"op": "o.upload-0/0", "name": "n"}),
                (2, "o.upload-0", "info", "put", {"op": "o.upload-0/0", "error": "reset"}),
                (3, "o.upload-0", "invoke", "resume", {"op": "o.upload-0/0", "name": "n"}),
                (4, "o.upload-0", "ok", "put", {"op": "o.upload-0/0", "name": "n"}))
    verdict = check(name, history, {})
    observed = name in ("chat.delivery", "chat.order", "exec.intact")
    assert verdict.status == ("pass" if observed else "unknown"), verdict


def test_check_all_keeps_the_order_and_blames_the_active_fault() -> None:
    history = H(fault(3, 4), chat_life("o.chat-0", 1, 10, sends={0: 3.5}),
                chat_life("o.chat-1", 1, 10))
    delivery, order = check_all(["chat.delivery", "chat.order"], history, {})
    assert (delivery.invariant, order.invariant) == ("chat.delivery", "chat.order")
    assert delivery.faults() == ["reset_peer(service=chat)"]


def test_an_unknown_invariant_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown invariant 'chat\.speed'"):
        check_all(["chat.speed"], H(), {})


def test_a_checker_that_chokes_on_its_input_gives_unknown() -> None:
    history = H((1, "o.chat-0", "info", "recv", {"from": "o.chat-1", "seq": "seven"}))
    verdict = check("chat.order", history, {})
    assert verdict.status == "unknown" and verdict.detail.startswith("checker failed: ValueError")


def test_a_verdict_fails_exactly_when_it_has_violations() -> None:
    with pytest.raises(ValueError):
        Verdict("chat.order", "pass", (Violation("chat.order", "x"),))
    with pytest.raises(ValueError):
        Verdict("chat.order", "fail")
    with pytest.raises(ValueError):
        Verdict("chat.order", "n/a")  # type: ignore[arg-type]


def test_verdicts_round_trip_through_json() -> None:
    verdict = Verdict("chat.order", "fail", (Violation("chat.order", "dup", 2.5, "o.chat-0",
                                                       "none", "c"),), 3, "1 violation(s)")
    assert Verdict.from_json(verdict.to_json()) == verdict
