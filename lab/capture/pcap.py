"""A pcap file as TCP segments: who sent what, when, with which flags.

:func:`read_segments` reads a classic pcap file (what ``tcpdump -w`` and
Wireshark write, microsecond or nanosecond timestamps) with dpkt and returns
its TCP segments in capture order as :class:`Segment` values: plain data,
so the summary (``lab.capture.summary``) needs no pcap and its tests build
segments by hand. Link types: Ethernet (``EN10MB``), Linux cooked captures
(``LINUX_SLL``, ``LINUX_SLL2``: what ``tcpdump -i any`` writes), raw IP and
BSD loopback; IPv4 and IPv6. Anything else in the file (ARP, UDP, a frame
that does not parse) is skipped and counted in :attr:`Capture.skipped`.

The payload length comes from the IP header, not from the bytes captured:
a capture cut short by its snapshot length (``lab capture --snaplen``)
still counts every byte sent.

Error handling: a file that is not a pcap, or of a link type not listed
above, raises :class:`lab.errors.CaptureError`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt

from lab.errors import CaptureError

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
FLAG_NAMES = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, "."))

EN10MB, RAW, LINUX_SLL, LINUX_SLL2 = 1, 101, 113, 276
NULL, LOOP = 0, 108
RAW_ALIASES = (12, 14)  # DLT_RAW's number on some BSDs
LINK_NAMES = {EN10MB: "EN10MB", RAW: "RAW", LINUX_SLL: "LINUX_SLL",
              LINUX_SLL2: "LINUX_SLL2", NULL: "NULL", LOOP: "LOOP"}


@dataclass(frozen=True, order=True)
class Endpoint:
    """One end of a connection: an address and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Segment:
    """One TCP segment as seen on the wire.

    ``time`` in seconds (the capture's clock), ``flags`` the TCP flag bits
    (:data:`SYN`, :data:`ACK`...), ``payload`` the number of data bytes it
    carries, ``window`` the raw (unscaled) window field.
    """

    time: float
    src: Endpoint
    dst: Endpoint
    flags: int
    seq: int
    ack: int
    window: int
    payload: int

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)

    @property
    def flag_text(self) -> str:
        """tcpdump's notation: ``S``, ``S.``, ``P.``, ``F.``, ``R``..."""
        return "".join(name for bit, name in FLAG_NAMES if self.flags & bit) or "none"


@dataclass(frozen=True)
class Capture:
    """What a pcap file held: its link type, its TCP segments, the frames skipped."""

    link_type: int
    segments: tuple[Segment, ...]
    frames: int
    skipped: int

    @property
    def link_name(self) -> str:
        return LINK_NAMES.get(self.link_type, str(self.link_type))


def _network_layer(link_type: int, frame: bytes) -> Any:
    """The IP packet (dpkt) inside one frame, or ``None``."""
    if link_type == EN10MB:
        packet = dpkt.ethernet.Ethernet(frame)
    elif link_type == LINUX_SLL:
        packet = dpkt.sll.SLL(frame)
    elif link_type == LINUX_SLL2:
        packet = dpkt.sll2.SLL2(frame)
    elif link_type in (NULL, LOOP):
        packet = dpkt.loopback.Loopback(frame)
    else:  # raw IP: the version nibble says which
        version = frame[0] >> 4 if frame else 0
        return (dpkt.ip.IP(frame) if version == 4
                else dpkt.ip6.IP6(frame) if version == 6 else None)
    data = packet.data
    return data if isinstance(data, dpkt.ip.IP | dpkt.ip6.IP6) else None


def _payload_length(ip: Any, tcp: Any) -> int:
    """Data bytes of the segment, from the IP lengths (the capture may be cut short)."""
    if isinstance(ip, dpkt.ip.IP):
        total = ip.len - ip.hl * 4 if ip.len else 0
    else:
        total = ip.plen - len(ip.headers_str()[1]) if ip.plen else 0
    if total <= 0:  # no length in the header (segmentation offload): what was captured
        return len(tcp.data)
    return int(max(0, total - tcp.off * 4))


def _segment(time: float, ip: Any) -> Segment | None:
    tcp = ip.data
    if not isinstance(tcp, dpkt.tcp.TCP):
        return None
    src, dst = (str(ipaddress.ip_address(address)) for address in (ip.src, ip.dst))
    return Segment(time=time, src=Endpoint(src, tcp.sport), dst=Endpoint(dst, tcp.dport),
                   flags=tcp.flags, seq=tcp.seq, ack=tcp.ack, window=tcp.win,
                   payload=_payload_length(ip, tcp))


def read_segments(path: Path) -> Capture:
    """Every TCP segment of the pcap file ``path``, in capture order."""
    segments: list[Segment] = []
    frames = skipped = 0
    try:
        with path.open("rb") as file:
            reader = dpkt.pcap.Reader(file)
            link_type = int(reader.datalink())
            if link_type not in (*LINK_NAMES, *RAW_ALIASES):
                raise CaptureError(
                    f"{path}: link type {link_type} is not one lab capture reads "
                    f"({', '.join(LINK_NAMES.values())})")
            for timestamp, frame in reader:
                frames += 1
                try:
                    ip = _network_layer(link_type, bytes(frame))
                    segment = _segment(float(timestamp), ip) if ip is not None else None
                except (dpkt.NeedData, dpkt.UnpackError, ValueError):
                    segment = None
                if segment is None:
                    skipped += 1
                else:
                    segments.append(segment)
    except (ValueError, dpkt.NeedData, dpkt.UnpackError) as exc:
        raise CaptureError(f"{path}: not a readable pcap file ({exc})") from exc
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
    return Capture(link_type, tuple(segments), frames, skipped)
