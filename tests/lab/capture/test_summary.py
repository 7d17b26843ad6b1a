"""lab.capture.summary: connections, handshakes, bytes, FINs and RSTs, delayed ACKs (pure)."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.capture.pcap import Endpoint, Segment
from lab.capture.summary import summarize
from tests.lab.capture.conversation import T0, c, conversation, s
from tests.lab.capture.pcapfile import ACK, FIN, PSH, RST, SYN, Packet


def near(expected: object) -> object:
    """Times are T0 (epoch seconds) + a few ms: a float holds them to about 1e-7."""
    return pytest.approx(expected, abs=1e-6)


def segment(packet: Packet) -> Segment:
    return Segment(packet.time, Endpoint(packet.src, packet.sport),
                   Endpoint(packet.dst, packet.dport), packet.flags, packet.seq % (1 << 32),
                   packet.ack % (1 << 32), packet.window, len(packet.data))


def summary_of(packets: list[Packet], **options: float | int | None):  # type: ignore[no-untyped-def]
    return summarize([segment(p) for p in packets], **options)  # type: ignore[arg-type]


def test_the_conversation_has_two_connections_in_order() -> None:
    summary = summary_of(conversation())
    assert summary.segments == len(conversation())
    assert summary.started == near(T0)
    assert summary.duration == near(0.304)
    first, second = summary.connections
    assert (str(first.client), str(first.server)) == ("10.0.0.2:40000", "10.0.0.3:8000")
    assert str(second.client) == "10.0.0.2:40001"
    assert second.start == near(0.300)


def test_the_handshake_times() -> None:
    handshake = summary_of(conversation()).connections[0].handshake
    assert (handshake.syn, handshake.syn_ack, handshake.ack) == near((0, 0.001, 0.002))
    assert handshake.complete and handshake.seconds == near(0.002)


def test_payload_each_way_counts_a_retransmitted_byte_once() -> None:
    first = summary_of(conversation()).connections[0]
    assert first.by_client.payload == len(b"hello\n" b"cmd" b"ok")
    assert first.by_client.retransmits == 1
    assert first.by_client.data_segments == 4
    assert first.by_server.payload == len(b"= welcome\n" b"result")
    assert first.by_server.retransmits == 0


def test_fin_and_rst_each_side_and_how_each_connection_ended() -> None:
    first, second = summary_of(conversation()).connections
    assert (first.by_client.fin, first.by_server.fin) == (1, 1)
    assert (first.by_client.rst, first.by_server.rst) == (0, 0)
    assert first.ending == "client FIN, server FIN"
    assert (second.by_client.rst, second.by_server.rst) == (0, 1)
    assert second.ending == "server RST"


def test_the_40_ms_bare_ack_is_a_delayed_ack_that_held_the_next_segment() -> None:
    first, second = summary_of(conversation()).connections
    (gap,) = first.delayed_acks
    assert gap.sender == "client" and gap.size == len(b"cmd")
    assert gap.sent == near(0.100) and gap.delay == near(0.040)
    assert gap.held and first.held_acks == 1
    assert second.delayed_acks == ()


def test_a_delayed_ack_the_sender_did_not_wait_for_is_not_held() -> None:
    c1, s1 = 1001, 5001
    packets = [c(0, SYN, 1000), s(0.001, SYN | ACK, 5000, c1), c(0.002, ACK, c1, s1),
               c(0.010, PSH | ACK, c1, s1, b"line\n"), s(0.050, ACK, s1, c1 + 5),
               c(0.500, PSH | ACK, c1 + 5, s1, b"later\n")]
    (gap,) = summary_of(packets).connections[0].delayed_acks
    assert gap.delay == near(0.040) and not gap.held


def test_a_late_answer_carrying_data_is_no_delayed_ack() -> None:
    c1, s1 = 1001, 5001
    packets = [c(0, SYN, 1000), s(0.001, SYN | ACK, 5000, c1), c(0.002, ACK, c1, s1),
               c(0.010, PSH | ACK, c1, s1, b"sleep 1"),
               s(1.010, PSH | ACK, s1, c1 + 7, b"done")]  # the server took 1 s to answer
    assert summary_of(packets).connections[0].delayed_acks == ()


def test_a_quick_ack_is_no_delayed_ack_and_the_threshold_is_a_setting() -> None:
    packets = conversation()
    assert summary_of(packets, delayed_ack=0.041).connections[0].delayed_acks == ()
    assert len(summary_of(packets, delayed_ack=0.0005).connections[0].delayed_acks) == 4


def test_a_capture_that_starts_mid_connection_finds_the_server_by_its_port() -> None:
    packets = [s(0.0, PSH | ACK, 5001, 1001, b"= hi\n"), c(0.001, ACK, 1001, 5006)]
    (connection,) = summary_of(packets, server_port=8000).connections
    assert str(connection.server) == "10.0.0.3:8000"
    assert connection.by_server.payload == 5 and not connection.handshake.complete
    assert connection.handshake.seconds is None and connection.ending == "open"
    (guessed,) = summary_of(packets).connections  # the higher port is the client's
    assert str(guessed.client) == "10.0.0.2:40000"


def test_a_new_syn_on_the_same_ports_is_a_new_connection() -> None:
    again = [c(1.0, SYN, 90_000), s(1.001, SYN | ACK, 70_000, 90_001),
             c(1.002, ACK, 90_001, 70_001)]
    packets = conversation()[:16] + again + [c(1.0005, SYN, 90_000)]  # a SYN sent again
    first, second = summary_of(packets).connections
    assert first.ending == "client FIN, server FIN" and second.ending == "open"
    assert second.handshake.complete and second.by_client.segments == 3


def test_zero_windows_are_counted_for_the_side_that_advertised_them() -> None:
    packets = [
        *conversation()[:3], c(0.01, PSH | ACK, 1001, 5001, b"x" * 1000),
        s(0.02, ACK, 5001, 2001, window=0), s(0.03, ACK, 5001, 2001, window=0),
    ]
    connection = summary_of(packets).connections[0]
    assert (connection.by_server.zero_windows, connection.by_client.zero_windows) == (2, 0)


def test_sequence_numbers_that_wrap_around_are_followed() -> None:
    isn = (1 << 32) - 3
    packets = [c(0, SYN, isn), s(0.001, SYN | ACK, 5000, isn + 1), c(0.002, ACK, isn + 1, 5001),
               c(0.01, PSH | ACK, isn + 1, 5001, b"abcdef"),
               c(0.02, PSH | ACK, isn + 7, 5001, b"ghij")]
    assert summary_of(packets).connections[0].by_client.payload == 10


def test_an_empty_capture() -> None:
    summary = summarize([])
    assert (summary.connections, summary.segments, summary.duration) == ((), 0, 0.0)


def test_the_summary_as_json() -> None:
    data = json.loads(json.dumps(summary_of(conversation()).as_dict()))
    first = data["connections"][0]
    assert first["client"] == "10.0.0.2:40000" and first["ending"] == "client FIN, server FIN"
    assert first["by_client"]["payload"] == 11 and first["handshake"]["seconds"] > 0
    assert first["delayed_acks"][0]["held"] is True


@given(data=st.binary(min_size=1, max_size=400), cuts=st.lists(st.integers(1, 399), max_size=8),
       repeats=st.lists(st.integers(0, 8), max_size=4))
def test_payload_is_the_bytes_sent_however_cut_and_retransmitted(
        data: bytes, cuts: list[int], repeats: list[int]) -> None:
    bounds = sorted({0, len(data), *(cut for cut in cuts if cut < len(data))})
    pieces = list(itertools.pairwise(bounds))
    packets = [c(0, SYN, 100), s(0.001, SYN | ACK, 900, 101), c(0.002, ACK, 101, 901)]
    sent = list(pieces)
    sent += [pieces[r % len(pieces)] for r in repeats]  # copies sent again, late
    for number, (start, end) in enumerate(sent):
        packets.append(c(0.01 + number / 1000, PSH | ACK, 101 + start, 901, data[start:end]))
    packets.append(s(1.0, FIN | RST | ACK, 901, 101 + len(data)))
    connection = summary_of(packets).connections[0]
    assert connection.by_client.payload == len(data)
    assert connection.by_client.retransmits == len(repeats)
    assert connection.by_server.rst == 1
