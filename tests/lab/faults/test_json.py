"""Every fault kind: registered once, documented, and a JSON round trip away from itself."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import lab.faults.container
import lab.faults.network
import lab.faults.peer
import lab.faults.stream
from lab.faults.base import FAULT_KINDS, Fault, Target, fault_from_json
from lab.faults.naming import fault_key

FAMILIES = {
    "stream": lab.faults.stream,
    "peer": lab.faults.peer,
    "container": lab.faults.container,
    "network": lab.faults.network,
}
EXAMPLES: list[Fault] = [
    lab.faults.stream.Latency(target=Target(service="chat"), latency=150, jitter=20),
    lab.faults.stream.Bandwidth(target=Target(service="upload"), rate=5000, stream="upstream"),
    lab.faults.stream.Slicer(target=Target(service="chat", client="observers.chat-1")),
    lab.faults.stream.Coalescer(target=Target(service="exec"), window=20, stream="both"),
    lab.faults.stream.Blackhole(target=Target(service="exec"), timeout=3000),
    lab.faults.stream.ResetPeer(target=Target(service="upload", connection="10.0.0.2:4000")),
    lab.faults.stream.LimitData(target=Target(service="chat"), bytes=10, toxicity=0.5),
    lab.faults.stream.SlowClose(target=Target(service="chat"), delay=500),
    lab.faults.peer.PeerFin(target=Target(service="chat")),
    lab.faults.peer.PeerRst(target=Target(service="exec"), count=3),
    lab.faults.peer.PeerHalfClose(target=Target(service="exec"), via="gateway"),
    lab.faults.peer.PeerStopReading(target=Target(service="chat"), hold=8.0),
    lab.faults.peer.PeerSlowloris(target=Target(service="upload")),
    lab.faults.peer.PeerGarbage(target=Target(service="chat")),
    lab.faults.peer.PeerOversized(target=Target(service="upload")),
    lab.faults.container.KillClient(target=Target(fleet="observers")),
    lab.faults.container.Pause(target=Target(service="chat")),
    lab.faults.container.RestartServer(target=Target(service="exec"), downtime=1.5),
    lab.faults.container.KillServer(target=Target(service="upload")),
    lab.faults.network.Disconnect(target=Target(service="chat")),
    lab.faults.network.Disconnect(target=Target(fleet="observers")),
    lab.faults.network.Drop(target=Target(service="chat"), direction="outbound"),
    lab.faults.network.Reject(target=Target(service="gateway"), port=8001),
    lab.faults.network.Reject(target=Target(service="exec"), direction="inbound"),
    lab.faults.network.Tbf(target=Target(service="upload"), rate=10_000),
]


@pytest.mark.parametrize("fault", EXAMPLES, ids=lambda f: f.label())
def test_a_fault_survives_a_json_round_trip(fault: Fault) -> None:
    data = json.loads(json.dumps(fault.to_json()))
    again = fault_from_json(data)
    assert again == fault and type(again) is type(fault)
    assert fault_key(again) == fault_key(fault)


def test_every_family_module_registers_its_kinds_and_each_is_documented() -> None:
    for family, module in FAMILIES.items():
        kinds = [cls for cls in FAULT_KINDS.values() if cls.__module__ == module.__name__]
        assert kinds, family
        for cls in kinds:
            assert cls.family == family
            assert len(cls.expected) > 40 and len(cls.concept) > 40, cls.kind
            assert cls.__doc__


def test_every_registered_kind_has_an_example_here() -> None:
    assert {f.kind for f in EXAMPLES} == set(FAULT_KINDS)


def test_the_stream_faults_cover_every_toxic_of_the_proxy() -> None:
    from lab.proxy.toxics import KINDS

    stream = [c for c in FAULT_KINDS.values() if issubclass(c, lab.faults.stream.StreamFault)]
    assert {c.toxic for c in stream} == set(KINDS)


def test_equal_faults_share_a_key_and_different_ones_do_not() -> None:
    a = lab.faults.stream.Latency(target=Target(service="chat"), latency=100)
    assert fault_key(a) == fault_key(lab.faults.stream.Latency(target=Target(service="chat"),
                                                               latency=100))
    assert fault_key(a) != fault_key(lab.faults.stream.Latency(target=Target(service="chat"),
                                                               latency=101))
    assert fault_key(a).startswith("latency-")


@pytest.mark.parametrize(("make", "message"), [
    (lambda: lab.faults.stream.Latency(), "target.service"),
    (lambda: lab.faults.stream.Latency(target=Target(service="gateway")), "target.service"),
    (lambda: lab.faults.stream.Latency(target=Target(service="chat"), stream="sideways"),
     "stream"),
    (lambda: lab.faults.stream.Latency(target=Target(service="chat"), toxicity=2), "toxicity"),
    (lambda: lab.faults.peer.PeerRst(target=Target(service="chat"), count=0), "count"),
    (lambda: lab.faults.peer.PeerRst(target=Target(service="chat"), via="carrier"), "via"),
    (lambda: lab.faults.peer.PeerRst(), "target.service"),
    (lambda: lab.faults.container.KillClient(), "target.fleet"),
    (lambda: lab.faults.container.Pause(), "target.service"),
    (lambda: lab.faults.container.RestartServer(target=Target(service="chat"), downtime=-1),
     "downtime"),
    (lambda: lab.faults.network.Disconnect(), "target"),
    (lambda: lab.faults.network.Drop(target=Target(service="chat"), direction="up"),
     "direction"),
    (lambda: lab.faults.network.Reject(target=Target(service="chat"), port=0), "port"),
    (lambda: lab.faults.network.Reject(target=Target(service="chat"), direction="outbound"),
     "direction"),
    (lambda: lab.faults.network.Tbf(target=Target(service="chat"), rate=0), "positive"),
])
def test_a_fault_with_a_missing_target_or_a_bad_setting_is_refused(
    make: Callable[[], object], message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        make()
