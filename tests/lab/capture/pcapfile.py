"""Pcap files built by hand with struct: the frames a test needs, nothing else.

A :class:`Packet` is one TCP segment (IPv4 or IPv6); :func:`pcap` wraps
packets in a link layer (Ethernet, Linux cooked v1 or v2, raw IP) and a
classic pcap file header, with microsecond or nanosecond timestamps.
Checksums are left at zero: nothing here verifies them.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
EN10MB, RAW, LINUX_SLL, LINUX_SLL2 = 1, 101, 113, 276
ETH_IP4, ETH_IP6 = 0x0800, 0x86DD


@dataclass(frozen=True)
class Packet:
    time: float
    src: str
    sport: int
    dst: str
    dport: int
    flags: int
    seq: int = 0
    ack: int = 0
    data: bytes = b""
    window: int = 65535

    @property
    def v6(self) -> bool:
        return ":" in self.src

    def tcp(self) -> bytes:
        offset_flags = (5 << 12) | self.flags
        return struct.pack("!HHIIHHHH", self.sport, self.dport, self.seq % (1 << 32),
                           self.ack % (1 << 32), offset_flags, self.window, 0, 0) + self.data

    def ip(self) -> bytes:
        segment = self.tcp()
        src, dst = (ipaddress.ip_address(a).packed for a in (self.src, self.dst))
        if self.v6:
            return struct.pack("!IHBB", 6 << 28, len(segment), 6, 64) + src + dst + segment
        header = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(segment), 1, 0x4000, 64, 6, 0)
        return header + src + dst + segment


def link(packet: bytes, link_type: int, v6: bool = False) -> bytes:
    """``packet`` (an IP packet) inside the link layer ``link_type``."""
    ethertype = ETH_IP6 if v6 else ETH_IP4
    if link_type == EN10MB:
        return b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + \
            struct.pack("!H", ethertype) + packet
    if link_type == LINUX_SLL:
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01", ethertype) + packet
    if link_type == LINUX_SLL2:
        return struct.pack("!HHiHBB8s", ethertype, 0, 2, 1, 0, 6,
                           b"\x02\x00\x00\x00\x00\x01") + packet
    if link_type == RAW:
        return packet
    raise ValueError(link_type)


def pcap(packets: Iterable[Packet | tuple[float, bytes]], link_type: int = LINUX_SLL2, *,
         nano: bool = False, snaplen: int = 65535) -> bytes:
    """A pcap file of ``packets`` (a ``(time, frame)`` pair is written as given)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = bytearray(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, link_type))
    for item in packets:
        if isinstance(item, Packet):
            time, frame = item.time, link(item.ip(), link_type, item.v6)
        else:
            time, frame = item
        seconds = int(time)
        fraction = round((time - seconds) * (1e9 if nano else 1e6))
        kept = frame[:snaplen]
        out += struct.pack("<IIII", seconds, fraction, len(kept), len(frame)) + kept
    return bytes(out)
