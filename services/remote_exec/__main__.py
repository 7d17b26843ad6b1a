"""``python -m services.remote_exec`` is ``netlab exec``."""

from services.remote_exec.cli import cli

cli(prog_name="netlab exec")
