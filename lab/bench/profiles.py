"""Profiles of a server under load, from py-spy's collapsed stacks: where its time went.

py-spy's raw format (``--format raw``) is one sampled stack a line, root
first, frames joined by ``;``, then the number of samples that saw it::

    <module> (netlab:8);main (services/runtime/main.py:183);recv (socket.py:12) 41

:class:`Profile` holds those counts (merged across recordings) with the
seconds recorded and the sampling rate. A sample whose leaf is a wait
(:data:`WAITING`: Trio's event loop in ``epoll_wait``, an idle worker thread)
is *waiting*; the others are *working*. py-spy cannot tell them apart itself
for a process in a container (it looks its threads up by the ids the
container gives them, which the host does not know, and counts every sample
as active), so the wait is recognized by its frame. Of the working samples:

* :meth:`Profile.self_time`: which lines were running (the leaf frame, line
  number kept: ``hash.update`` and ``os.write`` in one function are told
  apart);
* :meth:`Profile.inclusive`: which functions were on the stack (line numbers
  dropped, each function counted once a sample even when recursive). A
  function that only passes through (one callee under its deepest call in
  99 % of its samples, such as click's ``invoke`` chain or ``trio.run``) is
  left out: its share is its callee's.

Shares are of the working samples. :attr:`Profile.busy_threads` is working
samples / (rate x seconds): how many of the server's threads were running
(or ready to run: a thread waiting for a CPU counts) on average. The
kernel's own account, when the recorder read it (``/proc/PID/task/*/schedstat``),
tells the two apart: ``cpu_seconds`` on a CPU, ``runqueue_seconds`` ready
but waiting for one (a loaded machine, or the container's CPU quota).
Pure: no I/O; :func:`summary_markdown` and :func:`rich_table` only format.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.table import Table

TOP = 12
PASS_THROUGH = 0.99  # a function whose one callee runs in this share of its samples is left out
FRAME = re.compile(r"^(?P<name>.*?) \((?P<where>.*?)(?::(?P<line>\d+))?\)$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]+$")
NO_FRAME = "(no Python frame)"
# Leaf functions that are a thread waiting, not working.
WAITING = frozenset({
    "get_events (trio/_core/_io_epoll.py)",  # Trio's event loop in epoll_wait
    "_work (trio/_core/_thread_cache.py)",  # a Trio worker thread with no job
    "wait (threading.py)",
})

Stack = tuple[str, ...]


def parse_collapsed(text: str) -> Counter[Stack]:
    """``frame;frame;... COUNT`` lines as stack -> samples (blank lines skipped).

    A sample py-spy took with no Python frame (a line `` COUNT``) is the
    stack ``(NO_FRAME,)``. Raises ``ValueError`` naming the line for a line
    without a count.
    """
    stacks: Counter[Stack] = Counter()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        if not line:
            continue
        frames, space, count = line.rpartition(" ")
        if not space or not count.isdigit():
            raise ValueError(f"line {number} is not 'frame;frame;... COUNT': {line[:120]!r}")
        stacks[tuple(frames.split(";")) if frames else (NO_FRAME,)] += int(count)
    return stacks


def collapsed(stacks: Mapping[Stack, int]) -> str:
    """The stacks back in py-spy's raw format, the most sampled first."""
    ordered = sorted(stacks.items(), key=lambda item: (-item[1], item[0]))
    return "".join(f"{';'.join(stack)} {count}\n" for stack, count in ordered if count > 0)


def function_of(frame: str) -> str:
    """A frame without its line number: ``recv (socket.py:12)`` -> ``recv (socket.py)``.

    A native frame py-spy could not name (``0x7f3a... (libc.so.6)``) becomes
    ``? (libc.so.6)``.
    """
    match = FRAME.match(frame)
    if match is None:
        return frame
    name = "?" if ADDRESS.match(match["name"]) else match["name"]
    return f"{name} ({match['where']})"


@dataclass(frozen=True)
class Row:
    """One line of a table: a frame or function, its samples, their share of all samples."""

    frame: str
    samples: int
    share: float  # 0..1


@dataclass
class Profile:
    """Stacks sampled at ``rate`` Hz for ``seconds`` (summed over recordings)."""

    stacks: Counter[Stack] = field(default_factory=Counter)
    seconds: float = 0.0
    rate: int = 100
    recordings: int = 0
    cpu_seconds: float = 0.0  # the kernel's: the server's threads on a CPU
    runqueue_seconds: float = 0.0  # the kernel's: ready to run, waiting for a CPU

    @classmethod
    def parse(cls, text: str, *, seconds: float, rate: int, cpu_seconds: float = 0.0,
              runqueue_seconds: float = 0.0) -> Profile:
        return cls(parse_collapsed(text), seconds, rate, 1, cpu_seconds, runqueue_seconds)

    def add(self, other: Profile) -> None:
        """Merge another recording (same rate) into this one."""
        self.stacks.update(other.stacks)
        self.seconds += other.seconds
        self.rate = other.rate
        self.recordings += other.recordings
        self.cpu_seconds += other.cpu_seconds
        self.runqueue_seconds += other.runqueue_seconds

    @property
    def samples(self) -> int:
        """Every sample, waiting or working."""
        return sum(self.stacks.values())

    @property
    def working(self) -> Counter[Stack]:
        """The stacks whose leaf is not a wait."""
        return Counter({stack: count for stack, count in self.stacks.items()
                        if stack and function_of(stack[-1]) not in WAITING})

    @property
    def waiting_share(self) -> float:
        """The share of every sample that was a wait (0 if nothing was sampled)."""
        total = self.samples
        return 1 - sum(self.working.values()) / total if total else 0.0

    @property
    def busy_threads(self) -> float:
        """Working samples / (rate x seconds): threads running on average (0 if none)."""
        possible = self.rate * self.seconds
        return sum(self.working.values()) / possible if possible > 0 else 0.0

    @staticmethod
    def _rows(counts: Counter[str], total: int, top: int) -> list[Row]:
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        return [Row(frame, count, count / total) for frame, count in ranked]

    def self_time(self, top: int = TOP) -> list[Row]:
        """The leaf frames (line numbers kept) that took the most working samples."""
        counts: Counter[str] = Counter()
        for stack, count in self.working.items():
            counts[stack[-1]] += count
        return self._rows(counts, counts.total(), top)

    def inclusive(self, top: int = TOP) -> list[Row]:
        """The functions on the stack in the most samples, pass-through wrappers left out."""
        counts: Counter[str] = Counter()
        below: dict[str, Counter[str | None]] = {}  # what runs under a function's deepest call
        working = self.working
        for stack, count in working.items():
            functions = [function_of(frame) for frame in stack]
            deepest = {function: index for index, function in enumerate(functions)}
            for function, index in deepest.items():
                counts[function] += count
                callee = functions[index + 1] if index + 1 < len(functions) else None
                below.setdefault(function, Counter())[callee] += count
        kept = Counter({function: count for function, count in counts.items()
                        if not _passes_through(below[function], count)})
        return self._rows(kept, working.total(), top)


def _passes_through(below: Counter[str | None], samples: int) -> bool:
    """One callee (not the function itself: ``None``) under it in >= PASS_THROUGH of its samples."""
    callee, most = below.most_common(1)[0]
    return callee is not None and most >= PASS_THROUGH * samples


def _percent(share: float) -> str:
    return f"{100 * share:.1f} %"


def _heading(name: str, profile: Profile) -> str:
    return (f"{name}: {profile.samples} samples in {profile.seconds:.1f} s at {profile.rate} Hz "
            f"({profile.recordings} recording{'s' if profile.recordings != 1 else ''}), "
            f"{_percent(profile.waiting_share)} waiting; "
            f"{profile.busy_threads:.2f} threads working on average; kernel: "
            f"{profile.cpu_seconds:.2f} s on a CPU, {profile.runqueue_seconds:.2f} s waiting "
            "for one")


def summary_markdown(section: str, profiles: Mapping[str, Profile], top: int = TOP) -> str:
    """Every profile of ``section``: its self-time and inclusive tables, in Markdown."""
    lines = [f"# lab bench {section}: profiles of netlab's server under each load", "",
             "Shares are of the working samples: the server's threads running, not waiting in "
             "epoll or for a job.", ""]
    if not profiles:
        lines.append("No load of this section was profiled.")
    for name, profile in profiles.items():
        lines += [f"## {section}-{name}", "", _heading(name, profile), ""]
        for title, rows in (("self time (leaf frame)", profile.self_time(top)),
                            ("inclusive (function on the stack)", profile.inclusive(top))):
            lines += [f"| {title} | samples | share |", "| --- | --- | --- |"]
            lines += [f"| `{row.frame}` | {row.samples} | {_percent(row.share)} |"
                      for row in rows]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def rich_table(name: str, profile: Profile, top: int = TOP) -> Table:
    """One profile's top frames by self time beside its top functions by inclusive time."""
    out = Table(title=_heading(name, profile))
    for column in ("self time (leaf frame)", "self", "inclusive (function)", "incl."):
        out.add_column(column, overflow="fold")
    own, total = profile.self_time(top), profile.inclusive(top)
    for index in range(max(len(own), len(total))):
        cells: list[str] = []
        for rows in (own, total):
            row = rows[index] if index < len(rows) else None
            cells += [row.frame, _percent(row.share)] if row else ["", ""]
        out.add_row(*cells)
    return out

