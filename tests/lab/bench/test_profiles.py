"""Profiles from collapsed stacks: self time by leaf line, inclusive time by function."""

from __future__ import annotations

import pytest
from rich.console import Console

from lab.bench.profiles import (
    NO_FRAME,
    Profile,
    collapsed,
    function_of,
    parse_collapsed,
    rich_table,
    summary_markdown,
)

# A made-up upload server: the main thread (event loop) and one worker thread.
# 300 samples: 100 working (60 main, 40 worker), 200 waiting (epoll, no job).
LOOP = "<module> (netlab:8);invoke (click/core.py:10);run (trio/_run.py:100)"
STACKS = f"""\
{LOOP};recv (up/session.py:40);recv_into (trio/_socket.py:50) 30
{LOOP};recv (up/session.py:41) 10
<module> (netlab:8);invoke (click/core.py:10);run (trio/_run.py:101) 20
_bootstrap (threading.py:995);write (upload/sink.py:70) 25
_bootstrap (threading.py:995);write (upload/sink.py:71) 10
_bootstrap (threading.py:995);write (upload/sink.py:72);write (upload/sink.py:70) 5
{LOOP};get_events (trio/_core/_io_epoll.py:243) 150
_bootstrap (threading.py:995);_work (trio/_core/_thread_cache.py:211) 50
"""


def profile() -> Profile:
    return Profile.parse(STACKS, seconds=0.5, rate=200)


def test_the_collapsed_stacks_parse_and_come_back() -> None:
    stacks = parse_collapsed(STACKS + "\n")
    assert sum(stacks.values()) == 300 and len(stacks) == 8
    assert stacks[("_bootstrap (threading.py:995)", "write (upload/sink.py:71)")] == 10
    again = parse_collapsed(collapsed(stacks))
    assert again == stacks
    assert collapsed(stacks).splitlines()[0].endswith(" 150")  # the most sampled first


def test_a_line_without_a_count_is_refused() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_collapsed("a;b 3\na;b\n")
    with pytest.raises(ValueError, match="line 1"):
        parse_collapsed("7\n")


def test_a_sample_without_a_python_frame_is_kept() -> None:
    stacks = parse_collapsed("a (x.py:1);b (x.py:2) 3\n 2\n")
    assert stacks == {("a (x.py:1)", "b (x.py:2)"): 3, (NO_FRAME,): 2}
    assert Profile(stacks, 1.0, 5).self_time()[1].frame == NO_FRAME


def test_a_function_is_a_frame_without_its_line() -> None:
    assert function_of("recv_into (trio/_socket.py:50)") == "recv_into (trio/_socket.py)"
    assert function_of("<module> (netlab:8)") == "<module> (netlab)"
    assert function_of("0x7fc41a44524a (libc.so.6)") == "? (libc.so.6)"
    assert function_of("SHA256_Update (libcrypto.so.3)") == "SHA256_Update (libcrypto.so.3)"
    assert function_of("no parentheses") == "no parentheses"


def test_waits_are_told_from_work_by_their_leaf_frame() -> None:
    working = profile().working
    assert sum(working.values()) == 100
    assert not any("get_events" in stack[-1] or "_work" in stack[-1] for stack in working)
    assert profile().waiting_share == pytest.approx(2 / 3)
    assert Profile().waiting_share == 0.0


def test_self_time_ranks_leaf_lines_as_shares_of_the_working_samples() -> None:
    rows = profile().self_time()
    assert [(r.frame, r.samples) for r in rows[:3]] == [
        ("recv_into (trio/_socket.py:50)", 30),
        ("write (upload/sink.py:70)", 30),  # two stacks end on this line
        ("run (trio/_run.py:101)", 20),
    ]
    assert rows[0].share == pytest.approx(0.30)
    assert sum(r.samples for r in rows) == 100
    assert len(profile().self_time(top=2)) == 2


def test_inclusive_counts_a_recursive_function_once_and_skips_pass_throughs() -> None:
    rows = {r.frame: r for r in profile().inclusive(top=20)}
    assert rows["write (upload/sink.py)"].samples == 40  # not 45: recursion counted once
    assert rows["run (trio/_run.py)"].share == pytest.approx(0.60)
    assert rows["recv (up/session.py)"].samples == 40
    # <module> and invoke only pass through to one callee: their share is run's.
    assert "invoke (click/core.py)" not in rows and "<module> (netlab)" not in rows
    # _bootstrap has one callee too: the worker thread shows as write's 40 %.
    assert "_bootstrap (threading.py)" not in rows


def test_busy_threads_is_working_samples_over_rate_times_seconds() -> None:
    assert profile().busy_threads == pytest.approx(1.0)  # 100 / (200 x 0.5)
    assert Profile().busy_threads == 0.0


def test_recordings_merge() -> None:
    total = profile()
    total.add(Profile.parse(STACKS, seconds=0.5, rate=200, cpu_seconds=0.25,
                            runqueue_seconds=0.125))
    assert (total.samples, total.seconds, total.recordings) == (600, 1.0, 2)
    assert (total.cpu_seconds, total.runqueue_seconds) == (0.25, 0.125)
    assert total.self_time()[0].share == pytest.approx(0.30)


def test_the_summary_lists_the_top_frames_of_each_profile() -> None:
    text = summary_markdown("upload", {"netlab-1GiB": profile()})
    assert "## upload-netlab-1GiB" in text
    assert ("300 samples in 0.5 s at 200 Hz (1 recording), 66.7 % waiting; "
            "1.00 threads working on average; kernel: 0.00 s on a CPU, 0.00 s waiting for one"
            ) in text
    assert "| `recv_into (trio/_socket.py:50)` | 30 | 30.0 % |" in text
    assert "| `write (upload/sink.py)` | 40 | 40.0 % |" in text
    assert "No load" in summary_markdown("scale", {})


def test_the_rich_table_puts_self_and_inclusive_side_by_side() -> None:
    console = Console(width=200, record=True)
    console.print(rich_table("upload-netlab-1GiB", profile(), top=3))
    text = console.export_text()
    assert "recv_into (trio/_socket.py:50)" in text and "30.0 %" in text
    assert "run (trio/_run.py)" in text and "60.0 %" in text
