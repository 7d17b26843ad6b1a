"""Chat invariants: delivery, per-sender order, and cut-off clients learning it.

The chat clients' ops (see ``lab.fleet``): ``invoke send {"seq"}`` /
``ok send {"seq"}`` for each message ``m <process> <seq> <time>``, ``info
recv {"from", "seq"}`` for each such message received, ``info garbled
{"text"}`` for a line from a fleet client that is not one, ``ok done`` at
the end. The server does not echo a message to its sender.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from lab.history import History, Op
from lab.invariants.attribution import FaultWindow, fault_windows, silenced_by
from lab.invariants.clients import Connection, connections, processes_of
from lab.invariants.observations import Observations, seconds
from lab.invariants.violations import Findings, Verdict

DEFAULT_DELIVERY_GRACE = 1.0
"""Seconds a message may still be in flight when its receiver ends (``timeouts.chat_delivery``)."""
SHOWN_PER_PAIR = 5
"""Order violations listed one by one per (receiver, sender); the rest are summed up."""


@dataclass(frozen=True)
class Sent:
    """One message as its sender saw it."""

    sender: str
    seq: int
    invoked: float
    acked: float | None
    connection: int
    safe: bool
    """Acknowledged (``ok send``) on a connection that then ended normally."""


def _sent(process: str, conns: Sequence[Connection]) -> dict[int, Sent]:
    sent: dict[int, Sent] = {}
    for index, conn in enumerate(conns):
        invoked: dict[int, float] = {}
        acked: dict[int, float] = {}
        for op in conn.ops:
            if op.f == "send" and op.type in ("invoke", "ok"):
                times = invoked if op.type == "invoke" else acked
                times.setdefault(int(op.value["seq"]), op.time)
        for seq, time in invoked.items():
            ack = acked.get(seq)
            sent[seq] = Sent(process, seq, time, ack, index,
                             safe=ack is not None and conn.end == "normal")
    return sent


def _joined(conn: Connection) -> float | None:
    """When ``conn`` was first provably a member of the room (see :func:`check_delivery`)."""
    if conn.opened is None:
        return None
    return next((op.time for op in conn.ops if op.time >= conn.opened and (op.type, op.f) in
                 (("info", "joined"), ("invoke", "send"), ("info", "recv"))), None)


def _received(ops: Sequence[Op]) -> list[Op]:
    return [op for op in ops if op.type == "info" and op.f == "recv"]


def _proven(sent: dict[str, dict[int, Sent]], received: list[Op]) -> set[tuple[str, int]]:
    """Messages some client received, and all sent before them on the same connection.

    The server got those (TCP delivers a connection's bytes in order), so it
    owed them to every member, whatever became of their sender afterwards.
    """
    latest: dict[tuple[str, int], float] = {}
    for op in received:
        message = sent.get(str(op.value.get("from")), {}).get(int(op.value.get("seq", -1)))
        if message is not None:
            key = (message.sender, message.connection)
            latest[key] = max(latest.get(key, message.invoked), message.invoked)
    return {(m.sender, m.seq) for by_seq in sent.values() for m in by_seq.values()
            if m.invoked <= latest.get((m.sender, m.connection), -1.0)}


def check_delivery(history: History, observations: Observations) -> Verdict:
    """``chat.delivery``: every message reaches every member that was there for it.

    Receivers: a chat client's *last* connection, if it ended normally
    (``ok close``) with no ``info disconnected`` before, from the moment it
    was provably a member of the room to that end. ``ok connect`` proves
    nothing yet (through the gateway, the server accepts later); the proof
    is the connection's first ``info joined`` (the server answered), own
    ``invoke send`` (sent after the nick was answered) or ``info recv``.
    A client that reconnected is a receiver from its last join on.

    Messages it must have received: each message of every *other* sender
    whose ``invoke send`` came after the receiver joined, whose
    ``ok send`` (or, without one, ``invoke send``) came at least
    ``timeouts.chat_delivery`` seconds (default 1 s) before the receiver's
    end, and that provably reached the server: either acknowledged (``ok
    send``) on a connection its sender then ended normally, or received by
    some client (then so were all messages sent before it on that
    connection). A sender cut off by a fault may have written messages that
    died in its socket buffer; those are not owed to anyone.

    Also violations: every ``info garbled`` line (a message split or glued:
    the receiver read a recv() as a message), and a received message its
    sender (a process of this history) never sent.
    """
    findings = Findings("chat.delivery", "message deliveries")
    chatters = processes_of(history, "chat")
    if not chatters:
        return findings.verdict("no chat client in the history")
    grace = seconds(observations, "chat_delivery")
    grace = DEFAULT_DELIVERY_GRACE if grace is None else grace
    conns = {p: connections(p, history.ops) for p in chatters}
    sent = {p: _sent(p, conns[p]) for p in chatters}
    received = _received(history.ops)
    proven = _proven(sent, received)
    got: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for op in received:
        got[op.process].add((str(op.value.get("from")), int(op.value.get("seq", -1))))
        sender = str(op.value.get("from"))
        if sender in sent and int(op.value.get("seq", -1)) not in sent[sender]:
            findings.violation(f"received seq {op.value.get('seq')} from {sender}, "
                               f"which {sender} never sent", time=op.time, process=op.process)
    for op in history.ops:
        if op.type == "info" and op.f == "garbled" and op.process in sent:
            text = str(op.value.get("text", ""))
            findings.violation(f"received a line that is not a whole message: {text[:80]!r}",
                               time=op.time, process=op.process)
    joined = {p: _joined(conns[p][-1]) for p in chatters if conns[p][-1].end == "normal"}
    receivers = [p for p in chatters if joined.get(p) is not None]
    if len(receivers) < len(chatters):
        findings.note(f"{len(chatters) - len(receivers)} client(s) not in the room to the end")
    for receiver in receivers:
        opened, ended = joined[receiver] or 0.0, conns[receiver][-1].life[1]
        for sender in chatters:
            if sender == receiver:
                continue
            owed = [m for m in sent[sender].values()
                    if (m.safe or (m.sender, m.seq) in proven) and m.invoked > opened
                    and (m.acked if m.acked is not None else m.invoked) + grace <= ended]
            findings.checked += len(owed)
            missed = sorted((m for m in owed if (sender, m.seq) not in got[receiver]),
                            key=lambda m: m.seq)
            if missed:
                seqs = ", ".join(str(m.seq) for m in missed[:10])
                more = "..." if len(missed) > 10 else ""
                findings.violation(
                    f"did not receive {len(missed)} of the {len(owed)} messages of {sender} "
                    f"sent while it was connected (seqs {seqs}{more})",
                    time=missed[0].invoked, process=receiver)
    return findings.verdict("no message was owed to a client connected to the end")


def check_order(history: History, observations: Observations) -> Verdict:
    """``chat.order``: each receiver gets each sender's seqs strictly increasing.

    Over all of a receiver's connections: a seq received twice is a
    duplicate, one lower than an earlier one is out of order. Lost messages
    are ``chat.delivery``'s business, not this one's.
    """
    findings = Findings("chat.order", "received messages")
    if not processes_of(history, "chat"):
        return findings.verdict("no chat client in the history")
    last: dict[tuple[str, str], int] = {}
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    bad: dict[tuple[str, str], list[tuple[Op, str]]] = defaultdict(list)
    for op in _received(history.ops):
        pair = (op.process, str(op.value.get("from")))
        seq = int(op.value.get("seq", -1))
        findings.checked += 1
        if seq in seen[pair]:
            bad[pair].append((op, f"received seq {seq} from {pair[1]} twice"))
        elif pair in last and seq < last[pair]:
            bad[pair].append((op, f"received seq {seq} from {pair[1]} after seq {last[pair]}"))
        seen[pair].add(seq)
        last[pair] = max(seq, last.get(pair, seq))
    for (receiver, sender), items in bad.items():
        for op, message in items[:SHOWN_PER_PAIR]:
            findings.violation(message, time=op.time, process=receiver)
        if len(items) > SHOWN_PER_PAIR:
            findings.violation(f"and {len(items) - SHOWN_PER_PAIR} more duplicate or "
                               f"out-of-order messages from {sender}",
                               time=items[SHOWN_PER_PAIR][0].time, process=receiver)
    return findings.verdict("no chat message was received")


def check_cutoff(history: History, observations: Observations) -> Verdict:
    """``chat.cutoff``: a client whose connection a fault cut learns it in time.

    A connection is *cut* when it was open during a fault window and did
    not end normally. The client learns it with ``info disconnected`` (or by
    connecting again); it must do so within ``timeouts.chat_cutoff`` seconds
    of the fault's apply, or of its revert when the fault is aimed at the
    client itself (its name or its fleet: a paused client cannot notice
    anything until it runs again). With several faults over one connection,
    the latest of those deadlines counts.

    A connection that never ends because a container fault aimed at its own
    client silenced it (killed: it wrote nothing after) is skipped. Without the bound in the
    observations the verdict is unknown.
    """
    findings = Findings("chat.cutoff", "cut connections")
    chatters = processes_of(history, "chat")
    if not chatters:
        return findings.verdict("no chat client in the history")
    windows = fault_windows(history)
    bound = seconds(observations, "chat_cutoff")
    killed = 0
    for process in chatters:
        conns = connections(process, history.ops)
        for index, conn in enumerate(conns):
            if conn.opened is None or conn.end in ("normal", "refused"):
                continue
            start, end = conn.life
            over = [w for w in windows if w.overlaps(start, end)]
            if not over:
                continue
            learned = conn.ended if conn.end == "lost" else (
                conns[index + 1].ops[0].time if index + 1 < len(conns) else None)
            if learned is None and silenced_by(process, conn.ops, over) is not None:
                killed += 1
                continue
            if bound is None:
                findings.cannot_check("no chat_cutoff bound in the observations' timeouts")
                continue
            findings.checked += 1
            _check_cut(findings, process, learned, over, bound)
    if killed:
        findings.note(f"{killed} connection(s) of clients a container fault hit, not checked")
    findings.missing = list(dict.fromkeys(findings.missing))
    return findings.verdict("no chat connection was cut during a fault")


def _check_cut(findings: Findings, process: str, learned: float | None,
               over: list[FaultWindow], bound: float) -> None:
    def reference(w: FaultWindow) -> float:
        return w.reverted if w.hits(process) else w.applied

    fault = max(over, key=reference)
    deadline = reference(fault) + bound
    if learned is None:
        findings.violation(f"never learnt that {fault.label} cut its connection "
                           f"(no disconnected op; bound {bound:g} s)",
                           time=deadline if math.isfinite(deadline) else fault.applied,
                           process=process, fault=fault.label)
    elif learned > deadline:
        findings.violation(f"learnt that its connection was cut {learned - reference(fault):.1f} s "
                           f"after {fault.label} (bound {bound:g} s)",
                           time=learned, process=process, fault=fault.label)
