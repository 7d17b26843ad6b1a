"""A run's history: every operation of every client and every fault, in one list.

Modelled on Jepsen's histories: an :class:`Op` is one step of one
``process`` (a fleet client such as ``chat-3``, or ``nemesis`` for the
faults), of a ``type``:

``invoke``
    the process starts an operation (sends a message, runs a command, puts a file);
``ok``
    the operation completed and the process saw it succeed;
``fail``
    the operation certainly did not take effect (an explicit error answer);
``info``
    the outcome is unknown (the connection broke mid-operation), or an event
    that is not an operation (a received message, progress, a fault applied).

``f`` names the operation (``send``, ``recv``, ``run``, ``put``,
``fault-apply`` ...); ``value`` holds its JSON-able details. ``time`` is
wall-clock seconds (``time.time()``): the fleets in their containers and the
runner on the host share the machine's clock, so their ops merge into one
order. Checkers are pure functions of a history (see ``lab.invariants``).

On the wire (a fleet's stdout, a run's JSON file) each op is one JSON object:
``{"time": ..., "process": ..., "type": ..., "f": ..., "value": {...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, cast

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: tuple[OpType, ...] = ("invoke", "ok", "fail", "info")
NEMESIS = "nemesis"


@dataclass(frozen=True)
class Op:
    """One step of one process."""

    time: float
    process: str
    type: OpType
    f: str
    value: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in OP_TYPES:
            raise ValueError(f"op type {self.type!r} is not one of {OP_TYPES}")

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "process": self.process, "type": self.type,
                "f": self.f, "value": self.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Op:
        return cls(time=float(data["time"]), process=str(data["process"]),
                   type=cast(OpType, data["type"]), f=str(data["f"]),
                   value=dict(data.get("value") or {}))

    def line(self) -> str:
        """The op as one line of JSON (no newline)."""
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)


@dataclass
class History:
    """Ops in time order (stable for equal times); appended to, never edited."""

    ops: list[Op] = field(default_factory=list)

    def append(self, op: Op) -> None:
        self.ops.append(op)

    def extend(self, ops: Iterable[Op]) -> None:
        self.ops.extend(ops)

    def sorted(self) -> History:
        return History(sorted(self.ops, key=lambda op: op.time))

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def of(self, process: str) -> list[Op]:
        return [op for op in self.ops if op.process == process]

    def processes(self) -> list[str]:
        """Every process but the nemesis, in order of first appearance."""
        seen: dict[str, None] = {}
        for op in self.ops:
            if op.process != NEMESIS:
                seen.setdefault(op.process, None)
        return list(seen)

    def select(self, *, f: str | None = None, type: OpType | None = None,
               process: str | None = None) -> list[Op]:
        return [op for op in self.ops
                if (f is None or op.f == f) and (type is None or op.type == type)
                and (process is None or op.process == process)]

    def to_json(self) -> list[dict[str, Any]]:
        return [op.to_json() for op in self.ops]

    @classmethod
    def from_json(cls, data: Iterable[dict[str, Any]]) -> History:
        return cls([Op.from_json(item) for item in data])

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> History:
        """Parse JSON lines (a fleet's output); blank lines are skipped."""
        return cls([Op.from_json(json.loads(line)) for line in lines if line.strip()])
