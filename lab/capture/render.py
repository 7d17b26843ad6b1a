"""A capture's summary for the terminal: one table of connections, then the delayed ACKs.

:func:`table` is one row per connection (client, server, handshake time,
payload bytes each way, FINs and RSTs of each side, delayed ACKs, how it
ended); :func:`delayed_acks` lists the delayed ACKs themselves (at most
``limit``), each with the sentence that explains it; :func:`render` prints
both with a heading. Plain rich objects: the CLI prints them, tests read
them with a recording console.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.capture.summary import Connection, Summary

DELAYED_LIMIT = 20


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "not seen"
    ms = seconds * 1000
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms"


def _pair(connection: Connection, field: str) -> str:
    return f"{getattr(connection.by_client, field)} / {getattr(connection.by_server, field)}"


def table(summary: Summary) -> Table:
    """One row per connection."""
    grid = Table(title=f"{len(summary.connections)} connection(s), {summary.segments} TCP "
                       f"segments in {summary.duration:.3f} s", title_justify="left")
    for name, justify in (("#", "right"), ("client", "left"), ("server", "left"),
                          ("handshake", "right"), ("client → server", "right"),
                          ("server → client", "right"), ("FIN c/s", "center"),
                          ("RST c/s", "center"), ("delayed ACKs", "right"),
                          ("ending", "left")):
        grid.add_column(name, justify=justify)  # type: ignore[arg-type]
    for number, connection in enumerate(summary.connections, 1):
        delayed = str(len(connection.delayed_acks))
        if connection.held_acks:
            delayed += f" ({connection.held_acks} held)"
        ending = Text(connection.ending, style="red" if "RST" in connection.ending else "")
        grid.add_row(str(number), str(connection.client), str(connection.server),
                     _ms(connection.handshake.seconds), f"{connection.by_client.payload} B",
                     f"{connection.by_server.payload} B", _pair(connection, "fin"),
                     _pair(connection, "rst"), delayed, ending)
    return grid


def delayed_acks(summary: Summary, limit: int = DELAYED_LIMIT) -> RenderableType:
    """The delayed ACKs, oldest first, each with what it means."""
    lines = Text()
    shown = 0
    for number, connection in enumerate(summary.connections, 1):
        for gap in connection.delayed_acks:
            if shown == limit:
                total = sum(len(c.delayed_acks) for c in summary.connections)
                lines.append(f"... and {total - limit} more\n", style="dim")
                return lines
            shown += 1
            lines.append(f"#{number} at {gap.sent:.3f} s: {gap.size} B from the {gap.sender} "
                         f"waited {gap.delay * 1000:.1f} ms for its ACK")
            if gap.held:
                lines.append(f"; the {gap.sender}'s next data left only then "
                             "(Nagle held it until the delayed ACK)", style="yellow")
            lines.append("\n")
    if not shown:
        lines.append("no delayed ACK (none of 30 ms or more after data)\n", style="dim")
    return lines


def render(summary: Summary, console: Console) -> None:
    """Print the table and the delayed ACKs."""
    console.print(Group(table(summary), Text(), delayed_acks(summary)))
