"""``lab fleet run --spec JSON | --spec-file PATH|-``: run a fleet, ops on stdout.

Run inside a client container by the harness. Ops go to stdout, one JSON
object per line, flushed as they happen; logs go to stderr. Exits 0 once the
workload is done (it always stops: the spec's ``deadline`` bounds the run),
2 when the spec is missing or invalid.
"""

from __future__ import annotations

import json
import logging
import sys
from functools import partial
from typing import TextIO

import click
import trio

from lab.errors import InvalidSpec
from lab.fleet.run import run_fleet
from lab.fleet.spec import FleetSpec


@click.group()
def cli() -> None:
    """Client fleets (run inside a client container)."""


@cli.command("run")
@click.option("--spec", "spec_text", metavar="JSON", help="The FleetSpec as JSON.")
@click.option("--spec-file", type=click.File("r"), metavar="PATH|-",
              help="A file holding the FleetSpec JSON ('-': stdin).")
@click.option("-v", "--verbose", is_flag=True, help="Log each client's steps to stderr.")
def run_command(spec_text: str | None, spec_file: TextIO | None, verbose: bool) -> None:
    """Run the fleet a spec describes; print its ops as JSON lines."""
    if (spec_text is None) == (spec_file is None):
        raise click.UsageError("give exactly one of --spec and --spec-file")
    text = spec_file.read() if spec_file is not None else str(spec_text)
    try:
        spec = FleetSpec.from_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="spec") from None
    except InvalidSpec as exc:
        raise click.BadParameter(str(exc), param_hint="spec") from None
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    trio.run(partial(run_fleet, spec, sys.stdout))
