"""The ``lab`` command: the harness's sub-commands, each loaded on first use.

On the host: ``lab scenario list|run``, ``lab replay``, ``lab report``, ``lab bench``,
``lab capture`` (a service's packets), ``lab check`` and ``lab exercises`` (grading a
learner's programs; ``lab check-driver``, hidden, is what the grading container runs).
In client containers (run by the harness): ``lab fleet run``, ``lab rogue``,
``lab probe``, ``lab bench-load``. ``lab proxy`` runs fault proxies outside the gateway.
Each module exposes a click command named ``cli`` (or the one named after ``:``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

COMMANDS = {
    "fleet": "lab.fleet.cli",
    "rogue": "lab.rogue",
    "probe": "lab.probe",
    "scenario": "lab.scenarios.cli",
    "replay": "lab.scenarios.replay",
    "report": "lab.report",
    "proxy": "lab.proxy.cli",
    "bench": "lab.bench.cli",
    "bench-load": "lab.bench.cli:load_cli",
    "capture": "lab.capture.cli",
    "check": "lab.exercises.cli",
    "check-driver": "lab.exercises.driver",
    "exercises": "lab.exercises.cli:exercises_cli",
}


class LazyGroup(click.Group):
    """Loads each sub-command's module on first use (keeps ``--help`` fast).

    ``lazy`` maps a command's name to ``MODULE`` or ``MODULE:ATTRIBUTE``
    (the click command, ``cli`` by default).
    """

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute or "cli")
        return command


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(package_name="netlab")
def main() -> None:
    """netlab's lab harness: fleets, faults, scenarios and their verdicts."""
