"""Profiles of a server under load, from py-spy's collapsed stacks: where its time went.

py-spy's raw format (``--format raw``) is one sampled stack a line, root
first, frames joined by ``;``, then the number of samples that saw it::

    <module> (netlab:8);main (services/runtime/main.py:183);recv (socket.py:12) 41

:class:`Profile` holds those counts (merged across recordings) with the
seconds recorded and the sampling rate, and answers two questions:

* :meth:`Profile.self_time`: which lines were running (the leaf frame, line
  number kept: ``hash.update`` and ``os.write`` in one function are told
  apart), as a share of every sample;
* :meth:`Profile.inclusive`: which functions were on the stack (line numbers
  dropped, each function counted once a sample even when recursive). A
  function that only passes through (no samples of its own and a single
  callee, such as click's ``invoke`` chain) is left out: its share is its
  callee's.

Shares are of the samples taken, i.e. of the time the server's threads were
busy (py-spy skips threads waiting in the kernel unless ``--idle``);
:attr:`Profile.busy_threads` is samples / (rate x seconds), the average
number of its threads running. Pure: no I/O; :func:`summary_markdown` and
:func:`rich_table` only format.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from rich.table import Table

TOP = 12
FRAME = re.compile(r"^(?P<name>.*?) \((?P<where>.*?)(?::(?P<line>\d+))?\)$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]+$")

Stack = tuple[str, ...]


def parse_collapsed(text: str) -> Counter[Stack]:
    """``frame;frame;... COUNT`` lines as stack -> samples (blank lines skipped).

    Raises ``ValueError`` naming the line for a line without a count.
    """
    stacks: Counter[Stack] = Counter()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            raise ValueError(f"line {number} is not 'frame;frame;... COUNT': {line[:120]!r}")
        stacks[tuple(frames.split(";"))] += int(count)
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

    @classmethod
    def parse(cls, text: str, *, seconds: float, rate: int) -> Profile:
        return cls(parse_collapsed(text), seconds, rate, 1)

    def add(self, other: Profile) -> None:
        """Merge another recording (same rate) into this one."""
        self.stacks.update(other.stacks)
        self.seconds += other.seconds
        self.rate = other.rate
        self.recordings += other.recordings

    @property
    def samples(self) -> int:
        return sum(self.stacks.values())

    @property
    def busy_threads(self) -> float:
        """Samples / (rate x seconds): how many threads ran, on average (0 if nothing recorded)."""
        possible = self.rate * self.seconds
        return self.samples / possible if possible > 0 else 0.0

    def _rows(self, counts: Counter[str], top: int) -> list[Row]:
        total = self.samples
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        return [Row(frame, count, count / total) for frame, count in ranked]

    def self_time(self, top: int = TOP) -> list[Row]:
        """The leaf frames (line numbers kept) that took the most samples."""
        counts: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            if stack:
                counts[stack[-1]] += count
        return self._rows(counts, top)

    def inclusive(self, top: int = TOP) -> list[Row]:
        """The functions on the stack in the most samples, pass-through wrappers left out."""
        counts: Counter[str] = Counter()
        own: Counter[str] = Counter()
        callees: dict[str, set[str]] = {}
        for stack, count in self.stacks.items():
            functions = [function_of(frame) for frame in stack]
            for function in set(functions):
                counts[function] += count
            if functions:
                own[functions[-1]] += count
            for caller, callee in pairwise(functions):
                callees.setdefault(caller, set()).add(callee)
        kept = Counter({function: count for function, count in counts.items()
                        if own[function] or len(callees.get(function, ())) != 1})
        return self._rows(kept, top)


def _percent(share: float) -> str:
    return f"{100 * share:.1f} %"


def _heading(name: str, profile: Profile) -> str:
    return (f"{name}: {profile.samples} samples in {profile.seconds:.1f} s at {profile.rate} Hz "
            f"({profile.recordings} recording{'s' if profile.recordings != 1 else ''}); "
            f"{profile.busy_threads:.2f} threads busy on average")


def summary_markdown(section: str, profiles: Mapping[str, Profile], top: int = TOP) -> str:
    """Every profile of ``section``: its self-time and inclusive tables, in Markdown."""
    lines = [f"# lab bench {section}: profiles of netlab's server under each load", "",
             "Shares are of the samples (the server's threads while running, not waiting).", ""]
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

