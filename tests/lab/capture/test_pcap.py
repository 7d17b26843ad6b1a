"""lab.capture.pcap reads hand-made pcap files: every link type tcpdump writes, both families."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lab.capture.pcap import Endpoint, read_segments
from lab.errors import CaptureError
from tests.lab.capture.conversation import T0, conversation
from tests.lab.capture.pcapfile import ACK, EN10MB, LINUX_SLL, LINUX_SLL2, PSH, RAW, Packet, pcap


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "capture.pcap"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("link_type", [EN10MB, LINUX_SLL, LINUX_SLL2, RAW])
def test_every_link_type_gives_the_same_segments(tmp_path: Path, link_type: int) -> None:
    capture = read_segments(write(tmp_path, pcap(conversation(), link_type)))
    assert capture.link_type == link_type
    assert capture.frames == len(conversation()) and capture.skipped == 0
    first, fourth = capture.segments[0], capture.segments[3]
    assert (first.src, first.dst) == (Endpoint("10.0.0.2", 40000), Endpoint("10.0.0.3", 8000))
    assert first.flag_text == "S" and first.seq == 1000 and first.payload == 0
    assert first.time == pytest.approx(T0)
    assert fourth.flag_text == "P." and fourth.payload == len(b"hello\n")
    assert fourth.time == pytest.approx(T0 + 0.010)


def test_nanosecond_timestamps(tmp_path: Path) -> None:
    capture = read_segments(write(tmp_path, pcap(conversation(), nano=True)))
    assert capture.segments[2].time - capture.segments[0].time == pytest.approx(0.002, abs=1e-7)


def test_ipv6_segments(tmp_path: Path) -> None:
    packet = Packet(T0, "fd00::2", 40000, "fd00::3", 8000, PSH | ACK, 1, 1, b"over six")
    (segment,) = read_segments(write(tmp_path, pcap([packet], EN10MB))).segments
    assert str(segment.src) == "[fd00::2]:40000" and segment.payload == len(b"over six")


def test_a_packet_cut_short_by_the_snapshot_length_counts_every_byte_sent(
        tmp_path: Path) -> None:
    packet = Packet(T0, "10.0.0.2", 40000, "10.0.0.3", 8000, PSH | ACK, 1, 1, b"x" * 3000)
    (segment,) = read_segments(write(tmp_path, pcap([packet], LINUX_SLL2, snaplen=96))).segments
    assert segment.payload == 3000


def test_frames_that_are_not_tcp_are_skipped_and_counted(tmp_path: Path) -> None:
    arp = b"\xff" * 6 + b"\x02" * 6 + struct.pack("!H", 0x0806) + b"\x00" * 28
    udp_ip = struct.pack("!BBHHHBBH", 0x45, 0, 28, 1, 0, 64, 17, 0) + bytes(8) + bytes(8)
    eth_udp = b"\x02" * 12 + struct.pack("!H", 0x0800) + udp_ip
    tcp = Packet(T0 + 1, "10.0.0.2", 40000, "10.0.0.3", 8000, ACK, 1, 1)
    data = pcap([(T0, arp), (T0, eth_udp), tcp], EN10MB)
    capture = read_segments(write(tmp_path, data))
    assert (capture.frames, capture.skipped, len(capture.segments)) == (3, 2, 1)


def test_an_empty_capture_has_no_segments(tmp_path: Path) -> None:
    capture = read_segments(write(tmp_path, pcap([])))
    assert (capture.link_name, capture.segments, capture.frames) == ("LINUX_SLL2", (), 0)


def test_a_file_that_is_not_a_pcap_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="not a readable pcap"):
        read_segments(write(tmp_path, b"GET / HTTP/1.1\r\n\r\n" * 3))


def test_an_unknown_link_type_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="link type 105"):
        read_segments(write(tmp_path, pcap([], 105)))


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="No such file"):
        read_segments(tmp_path / "absent.pcap")
