"""Exec invariants: each command runs at most once, ends intact or explicitly, leaves nothing.

The exec clients' ops (see ``lab.fleet``): ``invoke run {"op", "command",
"expect"}`` for command ``op`` (``"{process}/{i}"``), then one of ``ok run``
(the EXIT: status, stdout size and hash), ``fail run`` (an explicit ERROR)
or ``info run`` (outcome unknown). Every command first touches
``/tmp/netlab-ran.<marker>.<pid>`` in the exec container, where ``marker``
is :func:`marker` of its op; ``observations["exec"]["ran"]`` counts them.
"""

from __future__ import annotations

from lab.history import History, Op
from lab.invariants.attribution import fault_windows, silenced_by
from lab.invariants.observations import Observations, dig
from lab.invariants.violations import Findings, Verdict

MARKER_PREFIX = "netlab-op-"
ENDS = {("ok", "run"), ("fail", "run"), ("info", "run")}
EXPECTED = ("status", "stdout_bytes", "stdout_sha256")


def marker(op_id: str) -> str:
    """The text a command carries to be found in the exec container: ``netlab-op-<op>``."""
    return MARKER_PREFIX + op_id.replace("/", "_")


def _invoked(history: History) -> dict[str, Op]:
    runs: dict[str, Op] = {}
    for op in history.ops:
        if op.type == "invoke" and op.f == "run":
            runs.setdefault(str(op.value.get("op")), op)
    return runs


def _ends(history: History) -> dict[str, Op]:
    """The first ending op of each command."""
    ends: dict[str, Op] = {}
    for op in history.ops:
        if (op.type, op.f) in ENDS:
            ends.setdefault(str(op.value.get("op")), op)
    return ends


def check_at_most_once(history: History, observations: Observations) -> Verdict:
    """``exec.at-most-once``: no command of the history ran twice in the exec container.

    Reads ``observations["exec"]["ran"]`` (keys: markers, with or without the
    ``netlab-op-`` prefix). Unknown without it, and unknown when a command
    that ended ``ok run`` left no mark at all: then the marks are not being
    recorded, and "no mark twice" would prove nothing.
    """
    findings = Findings("exec.at-most-once", "commands")
    runs = _invoked(history)
    if not runs:
        return findings.verdict("no exec command in the history")
    ran = dig(observations, "exec", "ran")
    if not isinstance(ran, dict):
        findings.cannot_check("no record of the runs in the exec container (exec.ran)")
        return findings.verdict("")
    counts = {key.removeprefix(MARKER_PREFIX): int(n) for key, n in ran.items()}
    ends = _ends(history)
    for op_id, invoke in runs.items():
        findings.checked += 1
        count = counts.get(marker(op_id).removeprefix(MARKER_PREFIX), 0)
        if count > 1:
            findings.violation(f"command {op_id} ran {count} times", time=invoke.time,
                               process=invoke.process)
        end = ends.get(op_id)
        if count == 0 and end is not None and end.type == "ok":
            findings.cannot_check(f"command {op_id} ended ok but left no run mark: "
                                  "the exec container does not record runs")
    findings.missing = findings.missing[:1]
    return findings.verdict("")


def check_intact(history: History, observations: Observations) -> Verdict:
    """``exec.intact``: each command ends with its expected output and status, or an explicit error.

    ``ok run`` must match the ``expect`` of its ``invoke run`` (status,
    stdout_bytes, stdout_sha256); ``fail run`` is an explicit error and fine;
    ``info run`` (unknown outcome) is allowed only when a fault window
    overlaps the command's time, from invoke to that op; a command with no
    ending op at all is a violation (the client lost track of it), unless a
    container fault killed its client (it wrote nothing after: it cannot report).
    """
    findings = Findings("exec.intact", "command outcomes")
    runs = _invoked(history)
    if not runs:
        return findings.verdict("no exec command in the history")
    windows = fault_windows(history)
    ends = _ends(history)
    unknown_under_fault = killed = 0
    for op_id, invoke in runs.items():
        end = ends.get(op_id)
        if end is None and silenced_by(invoke.process, history.ops, windows) is not None:
            killed += 1
        elif end is None:
            findings.checked += 1
            findings.violation(f"command {op_id} never ended: no ok, fail or info run",
                               time=invoke.time, process=invoke.process)
        elif end.type == "info":
            if any(w.overlaps(invoke.time, end.time) for w in windows):
                unknown_under_fault += 1
                continue
            findings.checked += 1
            findings.violation(f"command {op_id} ended unknown ({end.value.get('error')}) "
                               "with no fault active", time=end.time, process=end.process)
        elif end.type == "fail":
            findings.checked += 1
        else:
            _check_output(findings, op_id, invoke, end)
    if unknown_under_fault:
        findings.note(f"{unknown_under_fault} outcome(s) unknown under a fault")
    if killed:
        findings.note(f"{killed} command(s) of clients killed by a fault, not checked")
    return findings.verdict("every command's outcome was unknown under a fault")


def _check_output(findings: Findings, op_id: str, invoke: Op, end: Op) -> None:
    expect = invoke.value.get("expect")
    if not isinstance(expect, dict) or not any(key in expect for key in EXPECTED):
        findings.cannot_check(f"command {op_id} has no expected outcome")
        return
    findings.checked += 1
    wrong = [f"{key} {end.value.get(key)!r} (expected {expect[key]!r})"
             for key in EXPECTED if key in expect and end.value.get(key) != expect[key]]
    if wrong:
        findings.violation(f"command {op_id} ended with " + ", ".join(wrong),
                           time=end.time, process=end.process)


def check_no_leftovers(history: History, observations: Observations) -> Verdict:
    """``exec.no-leftovers``: no process of a command is left in the exec container.

    Reads ``observations["exec"]["leftovers"]`` (command lines); unknown
    without it. A leftover naming a command's marker is blamed on its client.
    """
    findings = Findings("exec.no-leftovers", "commands")
    runs = _invoked(history)
    if not runs:
        return findings.verdict("no exec command in the history")
    leftovers = dig(observations, "exec", "leftovers")
    if not isinstance(leftovers, list):
        findings.cannot_check("no list of the exec container's processes (exec.leftovers)")
        return findings.verdict("")
    findings.checked = len(runs)
    end_time = max((op.time for op in history.ops), default=None)
    # Longest first: op ``.../1`` is a prefix of op ``.../10``.
    by_marker = sorted(((marker(op_id), op) for op_id, op in runs.items()),
                       key=lambda item: -len(item[0]))
    for cmdline in leftovers:
        text = str(cmdline)
        owner = next((op for m, op in by_marker if m in text), None)
        findings.violation(f"left running after the run: {text[:120]!r}", time=end_time,
                           process=owner.process if owner else None)
    return findings.verdict("")
