"""``python -m services.chat`` is ``netlab chat``."""

from services.chat.cli import cli

cli(prog_name="netlab chat")
