"""The exec tests' ``start_server`` fixture: ``await start_server(**config)`` → an ExecHandle."""

from __future__ import annotations

from functools import partial

import pytest
import trio

from tests.support.servers import StartExec, start_exec


@pytest.fixture
def start_server(nursery: trio.Nursery) -> StartExec:
    return partial(start_exec, nursery)
