"""``python -m services`` is the ``netlab`` command."""

from services.cli import main

main()
