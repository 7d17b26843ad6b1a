"""lab.capture.sidecar's pure parts: the bounded tcpdump line, the sidecar's launch, the counts."""

from __future__ import annotations

import shlex
from types import SimpleNamespace

import pytest

from lab.capture.sidecar import PCAP, CaptureSpec, capture_launch, tcpdump_counts


def test_the_script_bounds_time_packets_and_bytes_and_writes_the_pcap_file() -> None:
    script = CaptureSpec(seconds=2.5, packets=200, snaplen=512, port=8000).script()
    assert script.startswith("exec timeout --preserve-status -s INT 2.5 tcpdump ")
    words = shlex.split(script.split(" 2>&1 ")[0])
    words = words[words.index("tcpdump"):]
    assert words[words.index("-c") + 1] == "200" and words[words.index("-s") + 1] == "512"
    assert words[words.index("-Z") + 1] == "root" and "-U" in words
    assert words[-1] == "tcp port 8000" and words[-2] == "-"
    assert script.endswith(f" 2>&1 >{PCAP}")


def test_a_filter_expression_is_one_quoted_word() -> None:
    spec = CaptureSpec(filter="tcp port 8000 and host 10.0.0.2; rm -rf /")
    assert shlex.split(spec.script().split(" 2>&1 ")[0])[-1] == spec.filter


@pytest.mark.parametrize("options", [
    {"seconds": 0}, {"seconds": 601}, {"packets": 0}, {"packets": 100_001},
    {"snaplen": 10}, {"port": 0},
])
def test_unbounded_or_invalid_specs_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CaptureSpec(**options)  # type: ignore[arg-type]


def test_the_sidecar_shares_the_service_namespace_with_the_capture_capabilities_only() -> None:
    launch = capture_launch(SimpleNamespace(id="abc123"))
    assert launch.network_mode == "container:abc123" and launch.user == "0"
    assert set(launch.cap_add) == {"NET_RAW", "NET_ADMIN", "SETUID", "SETGID"}
    assert launch.role == "capture"


def test_tcpdump_counts() -> None:
    lines = ["tcpdump: listening on any, link-type LINUX_SLL2 (Linux cooked v2)",
             "12 packets captured", "14 packets received by filter",
             "1 packet dropped by kernel"]
    assert tcpdump_counts(lines) == {"captured": 12, "received by filter": 14,
                                     "dropped by kernel": 1}
