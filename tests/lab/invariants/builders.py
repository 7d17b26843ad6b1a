"""Small hand-written histories for the invariants' tests: one row per op.

``H((1.0, "a.chat-0", "ok", "connect"), (2.0, "a.chat-0", "invoke", "send", {"seq": 0}))``
reads like the JSON lines a fleet writes; :func:`fault` adds a nemesis window.
"""

from __future__ import annotations

from typing import Any

from lab.history import NEMESIS, History, Op

Row = tuple[Any, ...]


def H(*rows: Row | Op | list[Op]) -> History:
    """A history from rows ``(time, process, type, f[, value])``, ops and lists of ops."""
    ops: list[Op] = []
    for row in rows:
        if isinstance(row, list):
            ops.extend(row)
        elif isinstance(row, Op):
            ops.append(row)
        else:
            time, process, type_, f, *value = row
            ops.append(Op(float(time), process, type_, f, dict(value[0]) if value else {}))
    return History(sorted(ops, key=lambda op: op.time))


def fault(applied: float, reverted: float | None, label: str = "reset_peer(service=chat)",
          family: str = "stream", *, error: str | None = None) -> list[Op]:
    """A fault window as :func:`lab.faults.base.applied` records it."""
    kind = label.partition("(")[0]
    base = {"fault": label, "kind": kind, "family": family}
    apply = {**base, "error": error} if error else {**base, "details": {}}
    ops = [Op(applied, NEMESIS, "info", "fault-apply", apply)]
    if reverted is not None:
        ops.append(Op(reverted, NEMESIS, "info", "fault-revert", base))
    return ops


def chat_life(process: str, connect: float, end: float, *, sends: dict[int, float] | None = None,
              ending: str = "close", joined: bool = True) -> list[Op]:
    """A chat client: connect, join, send each ``seq`` at its time (ok 0.01 s later), end.

    ``ending``: ``close`` (normal), ``disconnected`` (lost) or ``open`` (no end op);
    ``ok done`` follows a close or a disconnection, as the fleet writes it.
    """
    ops = [Op(connect - 0.01, process, "invoke", "connect"),
           Op(connect, process, "ok", "connect", {"local": "10.0.0.9:40000"})]
    if joined:
        ops.append(Op(connect, process, "info", "joined", {"nick": process}))
    for seq, time in (sends or {}).items():
        ops.append(Op(time, process, "invoke", "send", {"seq": seq}))
        ops.append(Op(time + 0.01, process, "ok", "send", {"seq": seq}))
    if ending == "open":
        return ops
    if ending == "close":
        ops.append(Op(end, process, "ok", "close"))
    elif ending == "disconnected":
        ops.append(Op(end, process, "info", "disconnected", {"error": "reset"}))
    ops.append(Op(end, process, "ok", "done", {"sent": len(sends or {}), "received": 0}))
    return ops


def recv(time: float, process: str, sender: str, seq: int) -> Op:
    return Op(time, process, "info", "recv", {"from": sender, "seq": seq})
