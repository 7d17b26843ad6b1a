"""Two hand-made connections, as a capture in the server's namespace would see them.

Connection 1 (client 10.0.0.2:40000 to the server 10.0.0.3:8000): a 2 ms
handshake; ``hello\\n`` (sent twice: the second copy is a retransmission)
acknowledged at once; ``= welcome\\n`` back; then ``cmd``, whose ACK comes
bare and 40 ms late, and ``ok``, which the client sends the moment that ACK
arrives (Nagle held it); the server's ``result``; FIN from the client, FIN
from the server. Connection 2 (client port 40001): handshake, 5 bytes, and
the server resets it.
"""

from __future__ import annotations

from tests.lab.capture.pcapfile import ACK, FIN, PSH, RST, SYN, Packet

T0 = 1_700_000_000.0
CLIENT, SERVER = "10.0.0.2", "10.0.0.3"
C_ISN, S_ISN = 1000, 5000


def c(time: float, flags: int, seq: int, ack: int = 0, data: bytes = b"",
      port: int = 40000) -> Packet:
    return Packet(T0 + time, CLIENT, port, SERVER, 8000, flags, seq, ack, data)


def s(time: float, flags: int, seq: int, ack: int = 0, data: bytes = b"",
      port: int = 40000, window: int = 65535) -> Packet:
    return Packet(T0 + time, SERVER, 8000, CLIENT, port, flags, seq, ack, data, window)


def conversation() -> list[Packet]:
    c1, s1 = C_ISN + 1, S_ISN + 1
    return [
        c(0.000, SYN, C_ISN),
        s(0.001, SYN | ACK, S_ISN, c1),
        c(0.002, ACK, c1, s1),
        c(0.010, PSH | ACK, c1, s1, b"hello\n"),
        c(0.012, PSH | ACK, c1, s1, b"hello\n"),  # a retransmission
        s(0.013, ACK, s1, c1 + 6),
        s(0.020, PSH | ACK, s1, c1 + 6, b"= welcome\n"),
        c(0.021, ACK, c1 + 6, s1 + 10),
        c(0.100, PSH | ACK, c1 + 6, s1 + 10, b"cmd"),
        s(0.140, ACK, s1 + 10, c1 + 9),  # the delayed ACK: bare, 40 ms late
        c(0.1402, PSH | ACK, c1 + 9, s1 + 10, b"ok"),  # held by Nagle until now
        s(0.141, PSH | ACK, s1 + 10, c1 + 11, b"result"),
        c(0.150, ACK, c1 + 11, s1 + 16),
        c(0.200, FIN | ACK, c1 + 11, s1 + 16),
        s(0.201, FIN | ACK, s1 + 16, c1 + 12),
        c(0.202, ACK, c1 + 12, s1 + 17),
        # connection 2: reset by the server
        c(0.300, SYN, 7000, port=40001),
        s(0.301, SYN | ACK, 9000, 7001, port=40001),
        c(0.302, ACK, 7001, 9001, port=40001),
        c(0.303, PSH | ACK, 7001, 9001, b"12345", port=40001),
        s(0.304, RST | ACK, 9001, 7006, port=40001),
    ]
