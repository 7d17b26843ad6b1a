"""``python -m services.upload`` is ``netlab upload``."""

from services.upload.cli import cli

cli(prog_name="netlab upload")
