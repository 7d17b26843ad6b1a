"""The token check: only the exact token passes, whatever the length of a wrong one."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from services.remote_exec.policy import AuthThrottle, token_matches
from tests.support.servers import EXEC_TOKEN

# Wrong tokens of the token's own length: a check that compared lengths only would pass them.
SAME_LENGTH = [
    "S3cret-token",  # first character differs
    "s3cret-tokeN",  # last character differs
    "s3cret_token",  # one in the middle
    "x" * len(EXEC_TOKEN),
]


def test_the_exact_token_matches() -> None:
    assert token_matches(EXEC_TOKEN, EXEC_TOKEN)


@pytest.mark.parametrize("given", [*SAME_LENGTH, "", EXEC_TOKEN[:-1], EXEC_TOKEN + "x"])
def test_any_other_token_does_not(given: str) -> None:
    assert len(SAME_LENGTH[0]) == len(EXEC_TOKEN)
    assert not token_matches(EXEC_TOKEN, given)


async def test_the_auth_throttle_blocks_after_max_failures_then_forgets(
    autojump_clock: trio.testing.MockClock,
) -> None:
    throttle = AuthThrottle(max_failures=3, window=60, block=30)
    assert not throttle.failed("10.0.0.1") and not throttle.failed("10.0.0.1")
    assert throttle.blocked_for("10.0.0.1") == 0
    assert throttle.failed("10.0.0.1")
    assert throttle.blocked_for("10.0.0.1") == pytest.approx(30)
    assert throttle.blocked_for("10.0.0.2") == 0  # per address
    await trio.sleep(31)  # the mock clock jumps
    assert throttle.blocked_for("10.0.0.1") == 0


async def test_failures_older_than_the_window_do_not_count(
    autojump_clock: trio.testing.MockClock,
) -> None:
    throttle = AuthThrottle(max_failures=2, window=10, block=30)
    assert not throttle.failed("a")
    await trio.sleep(11)
    assert not throttle.failed("a")
    assert throttle.blocked_for("a") == 0
