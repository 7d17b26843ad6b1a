"""Rogue peers (``lab rogue``): connections that misbehave on purpose, and what the server did.

:mod:`lab.rogue.wire` builds the bytes (sans-IO), :mod:`lab.rogue.peer` runs
the connections, :mod:`lab.rogue.cli` is the command.
"""

from lab.rogue.cli import cli

__all__ = ["cli"]
