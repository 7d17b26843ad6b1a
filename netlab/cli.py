"""The ``netlab`` command: one group, one sub-group per service, and the lab's gateway.

It lives above both ``services`` and ``lab`` because it names commands of
both; ``services`` never imports ``lab`` (``tests/test_layers.py`` checks).
"""

from __future__ import annotations

import importlib

import click

# Each module exposes a click command named ``cli``; listed here so a service
# can be added without touching anything else.
SERVICE_COMMANDS = {
    "chat": "services.chat.cli",
    "exec": "services.remote_exec.cli",
    "upload": "services.upload.cli",
    "gateway": "lab.gateway.cli",
}


class ServicesGroup(click.Group):
    """Loads each service's commands on first use (keeps ``--help`` fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SERVICE_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = SERVICE_COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                return None
            raise
        command: click.Command = module.cli
        return command


@click.group(cls=ServicesGroup)
@click.version_option(package_name="netlab")
def main() -> None:
    """netlab: chat, remote exec and file upload servers and clients for the TCP lab."""
