"""IdleWaits: the waits shutdown cuts short, and only those."""

from __future__ import annotations

import trio

from services.runtime.idle import IdleWaits
from services.runtime.lifecycle import Lifecycle


async def test_shutdown_cuts_an_idle_wait_short(nursery: trio.Nursery) -> None:
    lifecycle = Lifecycle()
    waits = IdleWaits(lifecycle)
    nursery.start_soon(waits.watch)
    waiting = trio.Event()
    ended = trio.Event()
    caught: list[bool] = []

    async def idle_client() -> None:
        with waits.idle() as scope:
            waiting.set()
            await trio.sleep_forever()
        caught.append(scope.cancelled_caught)
        ended.set()

    nursery.start_soon(idle_client)
    await waiting.wait()
    lifecycle.request_shutdown("test")
    with trio.fail_after(5):
        await ended.wait()
    assert caught == [True]


async def test_an_idle_wait_begun_after_shutdown_ends_at_once() -> None:
    lifecycle = Lifecycle()
    lifecycle.request_shutdown("test")
    with IdleWaits(lifecycle).idle() as scope:
        await trio.sleep_forever()
    assert scope.cancelled_caught


async def test_shutdown_leaves_work_outside_idle_waits_alone(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    lifecycle = Lifecycle()
    waits = IdleWaits(lifecycle)
    nursery.start_soon(waits.watch)
    with waits.idle():
        pass  # a wait that ended before shutdown is forgotten
    lifecycle.request_shutdown("test")
    await trio.testing.wait_all_tasks_blocked()
    with trio.move_on_after(1) as busy:
        await trio.sleep_forever()  # stands for a command in flight
    assert busy.cancelled_caught  # ran until its own deadline, not cut by shutdown
