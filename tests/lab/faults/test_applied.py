"""``applied``: a fault's window in the history opens when apply starts and closes after revert."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import trio
import trio.lowlevel

from lab.faults.base import Family, Fault, FaultContext, applied
from lab.history import History


@dataclass(frozen=True, kw_only=True)
class Slow(Fault):
    """Takes a while to apply (as a restart does); counts its reverts."""

    kind: ClassVar[str] = "slow-test"
    family: ClassVar[Family] = "container"
    expected: ClassVar[str] = "nothing"
    concept: ClassVar[str] = "nothing"
    fails: bool = False
    reverts: list[int]

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        if self.fails:
            raise RuntimeError("no")
        return {"done": True}

    async def revert(self, ctx: FaultContext) -> None:
        self.reverts.append(1)


def clock() -> Any:
    ticks = itertools.count(10)
    return lambda: float(next(ticks))


async def test_the_window_opens_when_apply_starts() -> None:
    history, reverts = History(), []
    async with applied(Slow(reverts=reverts), None, history, clock=clock()):  # type: ignore[arg-type]
        pass
    apply, revert = history.ops
    assert (apply.f, apply.time, apply.value["details"]) == ("fault-apply", 10.0, {"done": True})
    assert apply.value["seconds"] == 1.0
    assert (revert.f, revert.time) == ("fault-revert", 12.0)
    assert reverts == [1]


async def test_a_failed_apply_is_recorded_reverted_and_raised() -> None:
    history, reverts = History(), []
    with pytest.raises(RuntimeError):
        async with applied(Slow(fails=True, reverts=reverts), None, history,  # type: ignore[arg-type]
                           clock=clock()):
            pytest.fail("the block must not run")
    assert [op.f for op in history] == ["fault-apply", "fault-revert"]
    assert "RuntimeError: no" in history.ops[0].value["error"]
    assert reverts == [1]


async def test_the_revert_runs_when_the_block_is_cancelled() -> None:
    history, reverts = History(), []
    with trio.move_on_after(0.01):
        async with applied(Slow(reverts=reverts), None, history):  # type: ignore[arg-type]
            await trio.sleep_forever()
    assert reverts == [1]
    assert [op.f for op in history] == ["fault-apply", "fault-revert"]
