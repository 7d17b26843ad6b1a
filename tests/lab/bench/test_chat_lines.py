"""The chat loads' lines, sans-IO: greetings, messages, what an inbox counts and checks."""

from __future__ import annotations

import math

from lab.bench.chat_lines import (
    Dialect,
    Inbox,
    expected_deliveries,
    message,
    percentiles,
    sync,
)
from services.wire.preface import encode_preface


def test_each_dialect_greets_its_server() -> None:
    assert Dialect.NICK.hello("c7") == b"c7\n"
    assert Dialect.NETLAB.hello("c7") == encode_preface("chat")
    assert Dialect.NETLAB.hello("c7", "bench") == encode_preface("chat") + b"/join bench\n"
    assert Dialect.LINE.hello("c7") == b""


def test_a_checking_inbox_reads_messages_behind_any_prefix() -> None:
    inbox = Inbox(0, 3)
    lines = (b"[#lobby] <guest-2> " + message(1, 0, 1_000_000) +
             b"c2: " + message(2, 0, 2_000_000) + b"* guest-9 joined #lobby\n")
    assert inbox.feed(lines, 5_000_000) == lines
    assert inbox.received == 2 and inbox.reordered == 0
    assert sorted(inbox.latencies_us) == [3000, 4000]
    assert inbox.progress(1) == 1 and inbox.progress(2) == 1


def test_a_line_cut_between_reads_counts_once_it_is_whole() -> None:
    inbox = Inbox(0, 2)
    line = b"c1: " + message(1, 0, 0)
    assert inbox.feed(line[:9], 10) == b""
    assert inbox.received == 0
    inbox.feed(line[9:], 10)
    assert inbox.received == 1


def test_a_late_line_counts_as_reordered() -> None:
    inbox = Inbox(0, 2)
    inbox.feed(message(1, 0, 0) + message(1, 2, 0) + message(1, 1, 0), 0)
    assert inbox.received == 3 and inbox.reordered == 1 and inbox.progress(1) == 3


def test_a_counting_inbox_counts_without_parsing() -> None:
    inbox = Inbox(0, 3, check=False)
    inbox.feed(message(1, 5, 0) + message(2, 0, 0) + message(1, 4, 0), 0)
    assert inbox.received == 3 and inbox.reordered == 0 and len(inbox.latencies_us) == 0


def test_barrier_lines_are_noted_not_counted() -> None:
    inbox = Inbox(0, 3, check=False)
    inbox.feed(b"c1: " + sync(1) + b"[#lobby] <x> " + sync(2), 0)
    assert inbox.synced == {1, 2} and inbox.received == 0


def test_each_message_is_owed_to_every_other_client() -> None:
    assert expected_deliveries([10, 10, 5]) == 25 * 2


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    found = percentiles(range(1000, 101_000, 1000))  # 1..100 ms
    assert found == {"p50": 50.0, "p99": 99.0, "max": 100.0}
    assert all(math.isnan(value) for value in percentiles([]).values())
