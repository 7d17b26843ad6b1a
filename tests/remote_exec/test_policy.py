"""The token check: only the exact token passes, whatever the length of a wrong one."""

from __future__ import annotations

import pytest

from services.remote_exec.policy import token_matches
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
