"""The named scenarios: every fault family against every server, and a baseline.

Each builder draws its numbers from the scenario's seeded ``rng`` (see
:mod:`lab.scenarios.scenario`), so a seed fixes the plan. Fleets reach the
servers through the gateway's fault proxy (``host="gateway"``) when a stream
fault needs it, directly otherwise. Sizes and counts stay small: a scenario
takes seconds, and the whole catalogue runs in CI twice (netlab's servers,
then the broken twins).
"""

from __future__ import annotations

import random

from lab.faults.base import Fault, Target
from lab.faults.container import KillClient, Pause, RestartServer
from lab.faults.network import Drop, Reject, Tbf
from lab.faults.peer import (
    PeerGarbage,
    PeerHalfClose,
    PeerOversized,
    PeerRst,
    PeerSlowloris,
    PeerStopReading,
)
from lab.faults.stream import Bandwidth, Latency, ResetPeer, Slicer
from lab.fleet.spec import ChatSpec, ExecSpec, FleetSpec, UploadSpec, process_name
from lab.scenarios.scenario import Scenario, Workload
from lab.schedule import ScheduledFault
from lab.triggers import AfterOps, AtProgress, AtTime, Trigger, WhileStreaming

GATEWAY_PORTS = {"chat": 8000, "exec": 8001, "upload": 8002}
DEADLINE = 45.0  # seconds: every fleet stops by then, whatever happens


def _fleet_seed(rng: random.Random) -> int:
    return rng.getrandbits(31)


def _chat(rng: random.Random, *, clients: int, messages: int, via_gateway: bool,
          interval: float = 0.05, liveness: float = 5.0) -> ChatSpec:
    return ChatSpec(clients=clients, messages=messages + rng.randint(0, 5), interval=interval,
                    host="gateway" if via_gateway else "chat", port=8000,
                    linger=1.5, liveness=liveness)


def _exec(rng: random.Random, *, clients: int, via_gateway: bool, stream_lines: int = 0,
          output: tuple[int, ...] = (0, 1000, 300_000)) -> ExecSpec:
    return ExecSpec(clients=clients, commands=len(output) + rng.randint(0, 1),
                    host="gateway" if via_gateway else "exec",
                    port=GATEWAY_PORTS["exec"] if via_gateway else 8000,
                    output_bytes=output, stream_lines=stream_lines, command_timeout=10.0)


def _upload(rng: random.Random, *, clients: int, via_gateway: bool,
            sizes: tuple[int, ...] = (200_000, 3_000_000), pace: int = 0) -> UploadSpec:
    return UploadSpec(clients=clients, files=1, sizes=sizes,
                      host="gateway" if via_gateway else "upload",
                      port=GATEWAY_PORTS["upload"] if via_gateway else 8000,
                      resume=True, pace=pace)


def _fleet(name: str, rng: random.Random, **kinds: object) -> FleetSpec:
    return FleetSpec(name=name, seed=_fleet_seed(rng), deadline=DEADLINE, **kinds)  # type: ignore[arg-type]


def _at(fault: Fault, trigger: Trigger, duration: float) -> ScheduledFault:
    return ScheduledFault(fault, trigger, duration)


def _service(name: str) -> Target:
    return Target(service=name)


# -- no fault -----------------------------------------------------------------

def baseline(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("mixed", rng, chat=_chat(rng, clients=3, messages=15, via_gateway=True),
                   exec=_exec(rng, clients=2, via_gateway=True),
                   upload=_upload(rng, clients=2, via_gateway=True))
    return Workload([fleet])


# -- stream faults (the gateway's fault proxy) -------------------------------------

def chat_sliced_writes(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("talkers", rng, chat=_chat(rng, clients=4, messages=15, via_gateway=True))
    slicer = Slicer(target=_service("chat"), stream="upstream",
                    average_size=rng.randint(2, 4), size_variation=1, delay=rng.choice([0, 1]))
    return Workload([fleet], [_at(slicer, AtTime(0), DEADLINE)])


def chat_latency_jitter(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("talkers", rng, chat=_chat(rng, clients=4, messages=20, via_gateway=True))
    latency = Latency(target=_service("chat"), stream="both",
                      latency=rng.randint(80, 150), jitter=rng.randint(40, 80))
    return Workload([fleet], [_at(latency, AtTime(0), DEADLINE)])


def exec_stream_reset(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("runners", rng, exec=_exec(rng, clients=2, via_gateway=True, stream_lines=40,
                                              output=(1000, 0)))
    victim = process_name("runners", "exec", rng.randrange(2))
    reset = ResetPeer(target=Target(service="exec", client=victim), stream="downstream")
    return Workload([fleet], [_at(reset, WhileStreaming(process_prefix=victim), 1.0)])


def upload_cut_and_resume(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("senders", rng, upload=_upload(rng, clients=2, via_gateway=True,
                                                  sizes=(4_000_000,), pace=2_000_000))
    victim = process_name("senders", "upload", rng.randrange(2))
    reset = ResetPeer(target=Target(service="upload", client=victim), stream="upstream")
    fraction = rng.choice([0.3, 0.4, 0.5])
    return Workload([fleet], [_at(reset, AtProgress(fraction, process_prefix=victim), 0.5)])


# -- misbehaving peers ------------------------------------------------------------------

def chat_rude_peers(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("talkers", rng, chat=_chat(rng, clients=3, messages=30, via_gateway=False,
                                              interval=0.1))
    hold = 8.0
    faults = [
        _at(PeerStopReading(target=_service("chat"), count=2, hold=hold), AtTime(0), hold),
        _at(PeerRst(target=_service("chat"), count=3, hold=hold), AtTime(rng.uniform(0.5, 1.5)),
            hold),
        _at(PeerGarbage(target=_service("chat"), count=2, hold=hold),
            AtTime(rng.uniform(0.5, 1.5)), hold),
    ]
    return Workload([fleet], faults)


def exec_hostile_peers(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("runners", rng, exec=_exec(rng, clients=2, via_gateway=False))
    hold = 6.0
    faults = [
        _at(PeerSlowloris(target=_service("exec"), count=3, hold=hold), AtTime(0), hold),
        _at(PeerOversized(target=_service("exec"), count=2, hold=hold),
            AtTime(rng.uniform(0.2, 1.0)), hold),
    ]
    return Workload([fleet], faults)


def upload_hostile_peers(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("senders", rng, upload=_upload(rng, clients=2, via_gateway=False,
                                                  sizes=(1_000_000, 3_000_000)))
    hold = 6.0
    faults = [
        _at(PeerGarbage(target=_service("upload"), count=2, hold=hold), AtTime(0), hold),
        _at(PeerOversized(target=_service("upload"), count=2, hold=hold),
            AtTime(rng.uniform(0.2, 1.0)), hold),
        _at(PeerHalfClose(target=_service("upload"), count=2, hold=hold),
            AtTime(rng.uniform(0.2, 1.0)), hold),
    ]
    return Workload([fleet], faults)


# -- containers -------------------------------------------------------------------------

def chat_client_killed(rng: random.Random, seed: int) -> Workload:
    steady = _fleet("steady", rng, chat=_chat(rng, clients=3, messages=30, via_gateway=False,
                                              interval=0.1))
    doomed = _fleet("doomed", rng, chat=_chat(rng, clients=2, messages=30, via_gateway=False,
                                              interval=0.1))
    kill = KillClient(target=Target(fleet="doomed"))
    heard = rng.randint(15, 30)
    return Workload([steady, doomed], [_at(kill, AfterOps("recv", heard, "steady."), 0)])


def chat_server_restart(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("talkers", rng, chat=_chat(rng, clients=4, messages=40, via_gateway=False,
                                              interval=0.1, liveness=3.0))
    restart = RestartServer(target=_service("chat"))
    return Workload([fleet], [_at(restart, AfterOps("recv", rng.randint(20, 40)), 0)])


def exec_server_paused(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("runners", rng, exec=_exec(rng, clients=2, via_gateway=False, stream_lines=30,
                                              output=(1000,)))
    pause = Pause(target=_service("exec"))
    return Workload([fleet], [_at(pause, WhileStreaming(), rng.uniform(1.5, 2.5))])


def upload_server_restart(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("senders", rng, upload=_upload(rng, clients=2, via_gateway=False,
                                                  sizes=(4_000_000,), pace=1_500_000))
    restart = RestartServer(target=_service("upload"))
    return Workload([fleet], [_at(restart, AtProgress(rng.choice([0.3, 0.5])), 0)])


# -- the network --------------------------------------------------------------------------

def chat_network_stall(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("talkers", rng, chat=_chat(rng, clients=3, messages=40, via_gateway=False,
                                              interval=0.1, liveness=8.0))
    drop = Drop(target=_service("chat"), direction="both")
    return Workload([fleet], [_at(drop, AfterOps("recv", rng.randint(10, 30)),
                                  rng.uniform(2.0, 3.0))])


def exec_port_reject(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("runners", rng, exec=_exec(rng, clients=2, via_gateway=False, stream_lines=40,
                                              output=(1000, 0)))
    reject = Reject(target=_service("exec"))
    return Workload([fleet], [_at(reject, WhileStreaming(), rng.uniform(1.0, 2.0))])


def exec_bandwidth_cap(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("runners", rng, exec=_exec(rng, clients=2, via_gateway=False,
                                              output=(300_000, 1000)))
    cap = Tbf(target=_service("exec"), rate=rng.choice([200_000, 300_000]))
    return Workload([fleet], [_at(cap, AtTime(0), DEADLINE)])


def upload_ingress_drop(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("senders", rng, upload=_upload(rng, clients=2, via_gateway=False,
                                                  sizes=(3_000_000,), pace=1_500_000))
    drop = Drop(target=_service("upload"), direction="inbound")
    return Workload([fleet], [_at(drop, AtProgress(rng.choice([0.2, 0.3])),
                                  rng.uniform(1.5, 2.5))])


def upload_bandwidth_cap(rng: random.Random, seed: int) -> Workload:
    fleet = _fleet("senders", rng, upload=_upload(rng, clients=2, via_gateway=True,
                                                  sizes=(1_000_000,)))
    cap = Bandwidth(target=_service("upload"), stream="upstream",
                    rate=rng.choice([300_000, 500_000]))
    return Workload([fleet], [_at(cap, AtTime(0), DEADLINE)])


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("baseline", "chat, exec and upload fleets through the gateway, no fault",
             "none", baseline),
    Scenario("chat-sliced-writes", "every chat write cut into 1-5 byte pieces by the proxy",
             "stream", chat_sliced_writes),
    Scenario("chat-latency-jitter", "80-150 ms latency with jitter on chat, both ways",
             "stream", chat_latency_jitter),
    Scenario("exec-stream-reset", "one exec client's connection reset while its command streams",
             "stream", exec_stream_reset),
    Scenario("upload-cut-and-resume", "one upload's connection reset mid-way; it resumes",
             "stream", upload_cut_and_resume, also=("upload.resume",)),
    Scenario("upload-bandwidth-cap", "uploads squeezed to 300-500 kB/s by the proxy",
             "stream", upload_bandwidth_cap),
    Scenario("chat-rude-peers", "peers that never read, reset at once or send garbage join chat",
             "peer", chat_rude_peers),
    Scenario("exec-hostile-peers", "slowloris and oversized frames against exec",
             "peer", exec_hostile_peers),
    Scenario("upload-hostile-peers", "garbage, oversized frames and half-closes against upload",
             "peer", upload_hostile_peers),
    Scenario("chat-client-killed", "a container of chat clients SIGKILLed mid-conversation",
             "container", chat_client_killed),
    Scenario("chat-server-restart", "the chat server SIGTERMed and started again",
             "container", chat_server_restart, also=("chat.cutoff",)),
    Scenario("exec-server-paused", "the exec container frozen while commands stream",
             "container", exec_server_paused),
    Scenario("upload-server-restart", "the upload server restarted in the middle of uploads",
             "container", upload_server_restart, also=("upload.resume",)),
    Scenario("chat-network-stall", "every chat packet dropped for 2-3 s, both ways",
             "network", chat_network_stall),
    Scenario("exec-port-reject", "exec's port answers every packet with a reset for 1-2 s",
             "network", exec_port_reject),
    Scenario("exec-bandwidth-cap", "exec's egress capped by a tbf qdisc",
             "network", exec_bandwidth_cap),
    Scenario("upload-ingress-drop", "packets into upload dropped for 1.5-2.5 s mid-upload",
             "network", upload_ingress_drop),
)}
