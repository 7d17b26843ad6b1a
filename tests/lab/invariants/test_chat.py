"""chat.delivery, chat.order and chat.cutoff on small hand-written histories."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from lab.invariants import check
from lab.invariants.chat import check_cutoff, check_delivery, check_order
from tests.lab.invariants.builders import H, chat_life, fault, recv

A, B, C = "obs.chat-0", "obs.chat-1", "obs.chat-2"
NO_GRACE = {"timeouts": {"chat_delivery": 0.0}}


# chat.delivery


def test_delivery_passes_when_everyone_gets_everything() -> None:
    history = H(chat_life(A, 1, 10, sends={0: 2, 1: 3}), chat_life(B, 1, 10, sends={0: 2.5}),
                recv(2.1, B, A, 0), recv(3.1, B, A, 1), recv(2.6, A, B, 0))
    verdict = check_delivery(history, {})
    assert (verdict.status, verdict.checked) == ("pass", 3)


def test_delivery_names_the_receiver_the_sender_and_the_missing_seqs() -> None:
    history = H(chat_life(A, 1, 10, sends={0: 2, 1: 3, 2: 4}), chat_life(B, 1, 10),
                recv(2.1, B, A, 0))
    verdict = check_delivery(history, {})
    assert verdict.status == "fail"
    [violation] = verdict.violations
    assert violation.process == B
    assert "2 of the 3 messages of obs.chat-0" in violation.message
    assert "seqs 1, 2" in violation.message
    assert violation.time == 3.0  # the first missed message's send
    assert "byte stream" in violation.concept


def test_a_message_sent_before_the_receiver_joined_is_not_owed() -> None:
    history = H(chat_life(A, 1, 10, sends={0: 2, 1: 6}), chat_life(B, 5, 10), recv(6.1, B, A, 1))
    verdict = check_delivery(history, {})
    assert (verdict.status, verdict.checked) == ("pass", 1)


def test_without_a_joined_op_membership_starts_at_the_first_send_or_recv() -> None:
    # Through the gateway, ``ok connect`` comes before the server has accepted.
    history = H(chat_life(A, 1, 10, sends={0: 2, 1: 4, 2: 6}),
                chat_life(B, 1.5, 10, joined=False), recv(4.1, B, A, 1), recv(6.1, B, A, 2))
    verdict = check_delivery(history, {})
    assert (verdict.status, verdict.checked) == ("pass", 1)
    silent = H(chat_life(A, 1, 10, sends={0: 2}), chat_life(B, 1.5, 10, joined=False))
    assert check_delivery(silent, {}).status == "unknown"


def test_a_message_still_in_flight_at_the_receivers_end_is_owed_only_without_grace() -> None:
    history = H(chat_life(A, 1, 10, sends={0: 2, 1: 9.5}), chat_life(B, 1, 10), recv(2.1, B, A, 0))
    assert check_delivery(history, {}).status == "pass"
    assert check_delivery(history, NO_GRACE).status == "fail"


def test_messages_of_a_cut_off_sender_that_nobody_got_are_not_owed() -> None:
    history = H(chat_life(A, 1, 5, sends={0: 2, 1: 3}, ending="disconnected"),
                chat_life(B, 1, 10), chat_life(C, 1, 10, sends={0: 4}),
                recv(2.1, B, A, 0), recv(2.1, C, A, 0), recv(4.1, B, C, 0))
    verdict = check_delivery(history, {})
    # A's seq 0 was received (so owed to both), seq 1 may have died in A's socket buffer.
    assert (verdict.status, verdict.checked) == ("pass", 3)


def test_a_message_someone_received_proves_the_earlier_ones_of_that_connection() -> None:
    history = H(chat_life(A, 1, 5, sends={0: 2, 1: 3}, ending="disconnected"),
                chat_life(B, 1, 10), chat_life(C, 1, 10),
                recv(3.1, C, A, 1), recv(2.1, B, A, 0), recv(3.1, B, A, 1))
    verdict = check_delivery(history, {})
    assert verdict.status == "fail"
    [violation] = verdict.violations
    assert violation.process == C and "seqs 0" in violation.message


def test_a_receiver_cut_off_is_not_checked_but_its_reconnection_is() -> None:
    history = H(chat_life(A, 1, 10, sends={0: 2, 1: 6}),
                chat_life(B, 1, 3, ending="disconnected"), chat_life(B, 5, 10),
                recv(6.1, B, A, 1))
    verdict = check_delivery(history, {})
    assert (verdict.status, verdict.checked) == ("pass", 1)
    assert check_delivery(H(chat_life(A, 1, 10, sends={0: 2}),
                            chat_life(B, 1, 5, ending="disconnected")), {}).status == "unknown"


def test_a_garbled_line_is_a_violation() -> None:
    history = H(chat_life(A, 1, 10, sends={0: 2}), chat_life(B, 1, 10), recv(2.1, B, A, 0),
                (2.2, B, "info", "garbled", {"text": "m obs.chat-0 1 12.5m obs.ch"}))
    verdict = check_delivery(history, {})
    assert verdict.status == "fail"
    assert "not a whole message" in verdict.violations[0].message


def test_a_message_nobody_sent_is_a_violation() -> None:
    history = H(chat_life(A, 1, 10, sends={0: 2}), chat_life(B, 1, 10),
                recv(2.1, B, A, 0), recv(2.2, B, A, 7))
    [violation] = check_delivery(history, {}).violations
    assert "seq 7 from obs.chat-0, which obs.chat-0 never sent" in violation.message


def test_delivery_is_unknown_without_chat_clients_or_without_anything_owed() -> None:
    assert check_delivery(H(), {}).status == "unknown"
    lonely = check_delivery(H(chat_life(A, 1, 10, sends={0: 2})), {})
    assert lonely.status == "unknown" and "no message was owed" in lonely.detail


# chat.order


def test_order_passes_on_increasing_seqs_per_sender() -> None:
    history = H(chat_life(B, 1, 10), recv(2, B, A, 0), recv(3, B, C, 5), recv(4, B, A, 2),
                recv(5, B, C, 6))
    verdict = check_order(history, {})
    assert (verdict.status, verdict.checked) == ("pass", 4)


def test_order_reports_a_duplicate_and_a_step_back() -> None:
    history = H(chat_life(B, 1, 10), recv(2, B, A, 0), recv(3, B, A, 1), recv(4, B, A, 1),
                recv(5, B, A, 0))
    messages = [v.message for v in check_order(history, {}).violations]
    assert messages == ["received seq 1 from obs.chat-0 twice",
                        "received seq 0 from obs.chat-0 twice"]
    step_back = H(chat_life(B, 1, 10), recv(2, B, A, 3), recv(3, B, A, 1))
    assert [v.message for v in check_order(step_back, {}).violations] == [
        "received seq 1 from obs.chat-0 after seq 3"]


def test_order_sums_up_a_flood_of_violations() -> None:
    history = H(chat_life(B, 1, 10), *(recv(2 + i / 100, B, A, 0) for i in range(20)))
    violations = check_order(history, {}).violations
    assert len(violations) == 6
    assert violations[-1].message == (
        "and 14 more duplicate or out-of-order messages from obs.chat-0")


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=25))
def test_order_fails_exactly_when_seqs_are_not_strictly_increasing(seqs: list[int]) -> None:
    history = H(chat_life(B, 1, 100), *(recv(2 + i / 100, B, A, s) for i, s in enumerate(seqs)))
    verdict = check_order(history, {})
    increasing = all(x < y for x, y in itertools.pairwise(seqs))
    assert verdict.status == ("unknown" if not seqs else "pass" if increasing else "fail")


@given(st.permutations(list(range(8))))
def test_order_of_a_permutation_fails_unless_sorted(order: list[int]) -> None:
    history = H(chat_life(B, 1, 100), *(recv(2 + i / 100, B, A, s) for i, s in enumerate(order)))
    assert (check_order(history, {}).status == "pass") == (order == sorted(order))


# chat.cutoff

BOUND = {"timeouts": {"chat_cutoff": 5.0}}
PAUSE_B = "pause(fleet=obs)"


def test_a_cut_client_that_learns_in_time_passes() -> None:
    history = H(fault(3, 4), chat_life(B, 1, 5, ending="disconnected"))
    verdict = check_cutoff(history, BOUND)
    assert (verdict.status, verdict.checked) == ("pass", 1)


def test_a_cut_client_that_learns_late_fails_and_names_the_fault() -> None:
    history = H(fault(3, 4), chat_life(B, 1, 9, ending="disconnected"))
    [violation] = check_cutoff(history, BOUND).violations
    assert violation.fault == "reset_peer(service=chat)"
    assert "6.0 s after reset_peer(service=chat) (bound 5 s)" in violation.message
    assert violation.time == 9


def test_a_cut_client_that_never_learns_fails() -> None:
    history = H(fault(3, 4), chat_life(B, 1, 0, ending="open"))
    [violation] = check_cutoff(history, BOUND).violations
    assert violation.process == B and "never learnt" in violation.message
    assert violation.time == 8


def test_reconnecting_counts_as_learning() -> None:
    history = H(fault(3, 4), chat_life(B, 1, 0, ending="open"), chat_life(B, 5, 9))
    assert check_cutoff(history, BOUND).status == "pass"


def test_a_client_the_fault_holds_has_its_bound_from_the_revert() -> None:
    history = H(fault(3, 20, PAUSE_B, "container"), chat_life(B, 1, 21, ending="disconnected"))
    assert check_cutoff(history, BOUND).status == "pass"
    other = H(fault(3, 20, "pause(service=chat)", "container"),
              chat_life(B, 1, 21, ending="disconnected"))
    assert check_cutoff(other, BOUND).status == "fail"


def test_a_killed_client_is_not_checked() -> None:
    history = H(fault(3, 4, "kill(fleet=obs)", "container"), chat_life(B, 1, 0, ending="open"))
    verdict = check_cutoff(history, BOUND)
    assert verdict.status == "unknown"
    assert "not checked" in verdict.detail


def test_cutoff_is_unknown_without_a_bound_without_a_cut_or_without_a_fault() -> None:
    cut = H(fault(3, 4), chat_life(B, 1, 5, ending="disconnected"))
    verdict = check_cutoff(cut, {})
    assert verdict.status == "unknown" and "chat_cutoff" in verdict.detail
    survived = H(fault(3, 4), chat_life(B, 1, 10))
    assert check_cutoff(survived, BOUND).status == "unknown"
    no_fault = H(chat_life(B, 1, 5, ending="disconnected"))
    assert check_cutoff(no_fault, BOUND).status == "unknown"
    assert check_cutoff(H(), BOUND).status == "unknown"


def test_with_several_faults_the_latest_deadline_counts() -> None:
    history = H(fault(3, 4), fault(6, 7, "latency(service=chat)"),
                chat_life(B, 1, 9.5, ending="disconnected"))
    assert check_cutoff(history, BOUND).status == "pass"
    late = H(fault(3, 4), fault(6, 7, "latency(service=chat)"),
             chat_life(B, 1, 12, ending="disconnected"))
    # Through check(): the fault the checker named is kept, not re-blamed by the clock.
    [violation] = check("chat.cutoff", late, BOUND).violations
    assert violation.fault == "latency(service=chat)"
