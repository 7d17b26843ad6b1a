"""The stopper (first reason wins, and it cancels the wait for the exit) and shutdown's list."""

from __future__ import annotations

import trio
import trio.testing

from services.remote_exec.outcome import Stop
from services.remote_exec.stopper import RunningCommands, Stopper
from services.runtime.lifecycle import Lifecycle


def test_the_first_reason_wins() -> None:
    stopper = Stopper()
    stopper.stop(Stop.CANCELLED)
    stopper.stop(Stop.TIMEOUT)
    assert stopper.reason is Stop.CANCELLED


async def test_a_reason_cancels_the_wait_it_watches() -> None:
    stopper = Stopper()

    async def pump_over_the_limit() -> None:
        stopper.stop(Stop.OUTPUT_LIMIT)

    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as scope, stopper.cancels(scope):
            nursery.start_soon(pump_over_the_limit)
            await trio.sleep_forever()
    assert scope.cancelled_caught and stopper.reason is Stop.OUTPUT_LIMIT


async def test_a_reason_that_came_first_cancels_at_once() -> None:
    stopper = Stopper()
    stopper.stop(Stop.DISCONNECTED)
    with trio.CancelScope() as scope, stopper.cancels(scope):
        await trio.sleep_forever()
    assert scope.cancelled_caught


async def test_after_the_block_a_reason_cancels_nothing() -> None:
    stopper = Stopper()
    with trio.CancelScope() as scope, stopper.cancels(scope):
        await trio.lowlevel.checkpoint()
    stopper.stop(Stop.CANCELLED)
    assert not scope.cancel_called


def test_shutdown_stops_the_running_commands_and_any_late_one() -> None:
    running = RunningCommands()
    first, done, late = Stopper(), Stopper(), Stopper()
    with running.running(first):
        with running.running(done):
            pass
        assert len(running) == 1
        running.stop_all()
        with running.running(late):
            pass
    assert (first.reason, done.reason, late.reason) == (Stop.SHUTDOWN, None, Stop.SHUTDOWN)
    assert len(running) == 0


async def test_shutdown_gives_the_commands_their_delay(
        autojump_clock: trio.testing.MockClock) -> None:
    running, lifecycle, stopper = RunningCommands(), Lifecycle(), Stopper()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(running.stop_at_shutdown, lifecycle, 2.0)
        with running.running(stopper):
            await trio.sleep(10)
            assert stopper.reason is None  # no shutdown yet
            lifecycle.request_shutdown("test")
            began = trio.current_time()
            await trio.sleep(1.9)
            assert stopper.reason is None
            await trio.sleep(0.2)
            assert stopper.reason is Stop.SHUTDOWN
            assert trio.current_time() - began >= 2.0
