"""Testing a ``serve`` command's parsing without serving (model: uvicorn's tests/test_cli.py).

``recorded_main(monkeypatch, cli_module, server)`` replaces the ``main`` that
``cli_module`` calls with one that records each config it is given, after
checking it was asked to run ``server``; nothing listens.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest


def recorded_main(
    monkeypatch: pytest.MonkeyPatch, cli_module: ModuleType, server: Any
) -> list[Any]:
    """The configs ``cli_module``'s commands hand to ``main``, instead of running them."""
    configs: list[Any] = []

    def record(config: Any, server_class: Any) -> None:
        assert server_class is server
        configs.append(config)

    monkeypatch.setattr(cli_module, "main", record)
    return configs
