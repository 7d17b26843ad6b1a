"""The chat tests' ``start_server`` fixture: ``await start_server(**config)`` → a ChatHandle."""

from __future__ import annotations

from functools import partial

import pytest
import trio

from tests.support.servers import StartChat, start_chat


@pytest.fixture
def start_server(nursery: trio.Nursery) -> StartChat:
    return partial(start_chat, nursery)
