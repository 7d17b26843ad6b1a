"""``lab capture SERVICE [-- COMMAND...]``: a service's TCP traffic to a pcap file, summarised.

``lab capture chat`` runs tcpdump for ``--seconds`` (or until ``--packets``
packets) in a sidecar sharing the network namespace of the ``chat``
container of the running lab (``--project``, ``netlab`` by default: the
lab ``scripts/start-lab`` starts), writes ``--output`` (a pcap file
Wireshark opens; ``capture-SERVICE.pcap`` by default) and prints the
summary (:mod:`lab.capture.render`). With a COMMAND, the capture runs
that command as soon as tcpdump listens and stops one second after it
ends (its exit status becomes ``lab capture``'s). Ctrl-C stops the
capture early and still writes and summarises what it holds. ``lab capture --read FILE``
summarises an existing pcap file (any capture of TCP traffic, e.g.
``tcpdump -i lo -w FILE``). ``--json FILE`` writes the summary as JSON too.

Exit status: 0, 1 when the capture could not be made or read, 2 on a usage
error, the COMMAND's status when it failed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import click
import trio
from rich.console import Console

from lab.capture.pcap import read_segments
from lab.capture.render import render
from lab.capture.sidecar import MAX_PACKETS, MAX_SECONDS, SERVICE_PORT, CaptureSpec, capturing
from lab.capture.summary import summarize
from lab.errors import CaptureError, LabError, StackError
from services.runtime.options import USAGE_ERROR, exit_statuses

SERVICES = ("chat", "exec", "upload", "gateway")
DEFAULT_PROJECT = "netlab"
SETTLE = 1.0  # seconds after the command, for its last FINs and ACKs


async def record(project: str, service: str, spec: CaptureSpec, output: Path,
                 console: Console, command: tuple[str, ...] = ()) -> int:
    """Capture ``service`` of ``project`` into ``output``; Ctrl-C stops early.

    With a ``command``, run it once tcpdump listens (stdin, stdout and stderr
    this process's) and stop the capture :data:`SETTLE` seconds after it
    ends; its exit status is returned (else 0).
    """
    from lab.faults.context import LabContext  # Docker only when capturing
    from lab.stack import Stack

    stack = Stack(project=project)
    status = 0
    try:
        place = LabContext(stack)
        try:
            container = await trio.to_thread.run_sync(place.container, service)
        except StackError as exc:
            raise CaptureError(f"{exc}: is the lab running? (scripts/start-lab starts "
                               "the project netlab; --project names another)") from exc
        async with capturing(place, container, spec, output) as capture:
            until = "until the command ends, at most" if command else "for"
            console.print(f"capturing [bold]{spec.expression}[/] in {container.name} {until} "
                          f"{spec.seconds:g} s or {spec.packets} packets (Ctrl-C stops it)")
            with trio.open_signal_receiver(signal.SIGINT) as signals:
                async with trio.open_nursery() as nursery:
                    async def on_ctrl_c() -> None:
                        async for _ in signals:
                            await capture.stop()
                    nursery.start_soon(on_ctrl_c)
                    if command:
                        status = await run_command(command)
                        await trio.sleep(SETTLE)
                        await capture.stop()
                    await capture.program.wait()
                    nursery.cancel_scope.cancel()
        result = capture.result
        if result is not None:
            dropped = f", {result.dropped} dropped by the kernel" if result.dropped else ""
            console.print(f"wrote {result.output} ({result.captured} packets{dropped})")
    finally:
        stack.client.close()
    return status


async def run_command(command: tuple[str, ...]) -> int:
    """Run ``command`` with this process's stdin, stdout and stderr; its exit status."""
    try:
        done = await trio.run_process(list(command), check=False, stdin=None)
    except OSError as exc:
        raise CaptureError(f"cannot run {command[0]}: {exc.strerror or exc}") from exc
    return done.returncode if done.returncode >= 0 else 128 - done.returncode


@click.command("capture", epilog=exit_statuses({
    "0": "captured and summarised", "1": "the capture could not run (no lab, no such service...)",
    "N": "the COMMAND's own status, when it failed", **USAGE_ERROR}))
@click.argument("service", required=False, type=click.Choice(SERVICES))
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--project", default=lambda: os.environ.get("COMPOSE_PROJECT_NAME")
              or DEFAULT_PROJECT, show_default="netlab",
              help="The running lab's compose project.")
@click.option("--seconds", type=click.FloatRange(0, MAX_SECONDS, min_open=True), default=10.0,
              show_default=True, help="Stop after this long.")
@click.option("--packets", type=click.IntRange(1, MAX_PACKETS), default=10_000,
              show_default=True, help="Stop after this many packets.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help=f"The server's port: the capture filter (tcp port {SERVICE_PORT} by "
                   "default) and, with --read, which side of each connection is the server.")
@click.option("--filter", "expression", default=None,
              help="A pcap filter expression instead of 'tcp port PORT'.")
@click.option("--snaplen", type=click.IntRange(64, 65535), default=1024, show_default=True,
              help="Bytes kept of each packet (the summary counts every byte anyway).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The pcap file to write [default: capture-SERVICE.pcap].")
@click.option("--read", "read_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None, help="Summarise this pcap file; capture nothing.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the summary as JSON here ('-': stdout).")
def cli(service: str | None, command: tuple[str, ...], project: str, seconds: float,
        packets: int, port: int | None, expression: str | None, snaplen: int,
        output: Path | None, read_file: Path | None, json_file: Path | None) -> None:
    """Capture SERVICE's TCP traffic to a pcap file and summarise its connections.

    With a COMMAND (after --), run it once the capture listens and stop the
    capture when it ends: lab capture exec -- python3 my_client.py 127.0.0.1 8001

    Connections, handshakes, payload bytes each way, FINs and RSTs of each
    side, and the delayed ACKs (with Nagle's holds). Or summarise a pcap
    file with --read.
    """
    console = Console(stderr=str(json_file) == "-")
    if (service is None) == (read_file is None):
        raise click.UsageError("give a SERVICE to capture, or --read FILE (not both)")
    if command and read_file is not None:
        raise click.UsageError("a COMMAND runs during a capture, not with --read")
    status = 0
    try:
        if read_file is None:
            assert service is not None
            output = output or Path(f"capture-{service}.pcap")
            spec = CaptureSpec(seconds=seconds, packets=packets, snaplen=snaplen,
                               port=port or SERVICE_PORT, filter=expression)
            status = trio.run(record, project, service, spec, output, console, command)
            read_file, port = output, port or SERVICE_PORT
        capture = read_segments(read_file)
    except LabError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # Docker's own errors: no engine, no such project
        if type(exc).__module__.startswith(("docker", "requests")):
            raise click.ClickException(f"Docker: {exc}") from exc
        raise
    summary = summarize(capture.segments, server_port=port)
    render(summary, console)
    if json_file is not None:
        text = json.dumps({"file": str(read_file), "link_type": capture.link_name,
                           **summary.as_dict()}, indent=2)
        if str(json_file) == "-":
            click.echo(text)
        else:
            json_file.write_text(text + "\n", encoding="utf-8")
    if status:
        console.print(f"[red]{command[0]} exited with status {status}[/]")
        sys.exit(status)
