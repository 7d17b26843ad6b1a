"""``lab capture --read``: a hand-made pcap file summarised, as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from lab.capture.cli import cli
from lab.capture.pcap import read_segments
from lab.capture.render import delayed_acks, render
from lab.capture.summary import summarize
from tests.lab.capture.conversation import conversation
from tests.lab.capture.pcapfile import pcap


def conversation_file(tmp_path: Path) -> Path:
    path = tmp_path / "conversation.pcap"
    path.write_bytes(pcap(conversation()))
    return path


def test_read_prints_every_connection_and_the_delayed_ack(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--read", str(conversation_file(tmp_path))],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2 connection(s), 21 TCP segments" in result.output
    assert "10.0.0.2:40000" in result.output and "client FIN, server FIN" in result.output
    assert "server RST" in result.output
    assert "3 B from the client waited 40.0 ms for its ACK" in result.output
    assert "Nagle" in result.output


def test_read_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    result = CliRunner().invoke(cli, ["--read", str(conversation_file(tmp_path)),
                                      "--port", "8000", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["link_type"] == "LINUX_SLL2" and len(data["connections"]) == 2
    assert [c["ending"] for c in data["connections"]] == ["client FIN, server FIN", "server RST"]


def test_json_to_stdout_keeps_the_table_off_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--read", str(conversation_file(tmp_path)), "--json", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["segments"] == 21


def test_a_service_or_a_file_not_both_nor_neither(tmp_path: Path) -> None:
    path = str(conversation_file(tmp_path))
    assert CliRunner().invoke(cli, []).exit_code == 2
    assert CliRunner().invoke(cli, ["chat", "--read", path]).exit_code == 2
    assert CliRunner().invoke(cli, ["nosuch"]).exit_code == 2


def test_a_file_that_is_not_a_pcap_exits_1_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "notes.pcap"
    path.write_text("not a capture\n" * 4)
    result = CliRunner().invoke(cli, ["--read", str(path)])
    assert result.exit_code == 1 and "not a readable pcap" in result.output


def test_render_lists_at_most_the_limit_of_delayed_acks(tmp_path: Path) -> None:
    summary = summarize(read_segments(conversation_file(tmp_path)).segments,
                        delayed_ack=0.0005)
    console = Console(record=True, width=200)
    console.print(delayed_acks(summary, limit=2))
    text = console.export_text()
    assert text.count(" waited ") == 2 and "... and 2 more" in text
    quiet = Console(record=True, width=200)
    render(summarize([]), quiet)
    shown = quiet.export_text()
    assert "0 connection(s)" in shown and "no delayed ACK" in shown
