"""A fleet client's life in the history: its kind, and its connections one by one.

Fleet clients are processes named ``{fleet}.{kind}-{i}`` (``observers.chat-0``);
:func:`kind_of` reads the kind back. A client may reconnect: each ``invoke
connect`` starts a new :class:`Connection`, which holds the ops up to the next
one. A connection ends at its first ending op:

``normal``  ``ok close`` (or ``ok done``, which a fleet client writes last
            whatever happened: it counts only when nothing ended the
            connection before it);
``lost``    ``info disconnected`` (the client noticed the connection end);
``refused`` ``fail connect`` (never connected);
``open``    none of those (the client was killed, or never noticed).

The checkers rely only on each process's ops being in the order the process
emitted them, and on ``time`` to compare processes and fault windows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lab.history import Op

PROCESS = re.compile(r"(?P<fleet>.+)\.(?P<kind>[a-z_]+)-(?P<index>\d+)")
KINDS = ("chat", "exec", "upload")

End = Literal["normal", "lost", "refused", "open"]
ENDINGS: dict[tuple[str, str], End] = {
    ("ok", "done"): "normal",
    ("ok", "close"): "normal",
    ("info", "disconnected"): "lost",
    ("fail", "connect"): "refused",
}


def kind_of(process: str) -> str | None:
    """``chat`` for ``observers.chat-0``; None for a name outside the convention."""
    match = PROCESS.fullmatch(process)
    return match["kind"] if match else None


def processes_of(ops: Iterable[Op], kind: str) -> list[str]:
    """The processes of one kind, in order of first appearance."""
    return list(dict.fromkeys(op.process for op in ops if kind_of(op.process) == kind))


def services_used(ops: Iterable[Op]) -> list[str]:
    """The services the fleets' clients talked to (a client's kind is its service)."""
    kinds = {kind_of(op.process) for op in ops}
    return [kind for kind in KINDS if kind in kinds]


@dataclass(frozen=True)
class Connection:
    """One connection of one client: from its ``invoke connect`` to the next."""

    process: str
    ops: tuple[Op, ...]
    opened: float | None
    end: End
    ended: float | None

    @property
    def life(self) -> tuple[float, float]:
        """``[opened, ended]`` as numbers (an open end reaches to infinity)."""
        start = self.opened if self.opened is not None else self.ops[0].time
        return start, self.ended if self.ended is not None else float("inf")


def connections(process: str, ops: Sequence[Op]) -> list[Connection]:
    """``process``'s connections, in order (its ops before any connect count in the first)."""
    groups: list[list[Op]] = []
    for op in ops:
        if op.process != process:
            continue
        if not groups or (op.type == "invoke" and op.f == "connect"):
            groups.append([])
        groups[-1].append(op)
    return [_connection(process, group) for group in groups]


def _connection(process: str, ops: list[Op]) -> Connection:
    opened = next((op.time for op in ops if op.type == "ok" and op.f == "connect"), None)
    for op in ops:
        end = ENDINGS.get((op.type, op.f))
        if end is not None:
            return Connection(process, tuple(ops), opened, end, op.time)
    return Connection(process, tuple(ops), opened, "open", None)


def connection_at(conns: Sequence[Connection], op: Op) -> int:
    """The index of the connection whose ops include ``op`` (-1 if none)."""
    for index, conn in enumerate(conns):
        if any(o is op for o in conn.ops):
            return index
    return -1
