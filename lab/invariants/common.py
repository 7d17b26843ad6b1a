"""Invariants of every server: it serves new clients after the faults, and leaks nothing.

Both read the probe (``lab probe``) run before and after the scenario:
``observations["probe_before"|"probe_after"]`` = ``{"serves": {service:
{"ok", "error"}}, "stats": {service: counters | null}}``, the counters being
:meth:`services.runtime.counters.Counters.snapshot` as the stats port serves
it. The services checked are those the fleets' clients used (a client's
kind is its service) and any listed in ``observations["services"]``.
"""

from __future__ import annotations

from typing import Any

from lab.history import History
from lab.invariants.clients import services_used
from lab.invariants.observations import Observations, dig
from lab.invariants.violations import Findings, Verdict

OPEN_COUNTERS = ("connections_open", "tasks_open")
"""The counters that must be back where they were: connections and per-connection tasks."""


def _services(history: History, observations: Observations) -> list[str]:
    listed = dig(observations, "services")
    extra = [str(s) for s in listed] if isinstance(listed, list) else []
    return list(dict.fromkeys([*services_used(history.ops), *extra]))


def _end(history: History) -> float | None:
    return max((op.time for op in history.ops), default=None)


def check_serves_new_clients(history: History, observations: Observations) -> Verdict:
    """``all.serves-new-clients``: after the run, each service used serves a new client.

    ``probe_after.serves[service].ok`` must be true; unknown when the probe
    did not report on a service.
    """
    findings = Findings("all.serves-new-clients", "services")
    services = _services(history, observations)
    if not services:
        return findings.verdict("no service used in the history")
    for service in services:
        result = dig(observations, "probe_after", "serves", service)
        if not isinstance(result, dict) or not isinstance(result.get("ok"), bool):
            findings.cannot_check(f"no probe of {service} after the run")
            continue
        findings.checked += 1
        if not result["ok"]:
            findings.violation(f"{service} did not serve a new client after the run: "
                               f"{result.get('error')}", time=_end(history))
    return findings.verdict("")


def check_counters_baseline(history: History, observations: Observations) -> Verdict:
    """``all.counters-baseline``: open connections and tasks back to their level before the run.

    Compares ``connections_open`` and ``tasks_open`` of ``probe_after.stats``
    with ``probe_before.stats`` for each service used; unknown for a service
    without stats on either side (the broken twins have no stats port).
    """
    findings = Findings("all.counters-baseline", "services")
    services = _services(history, observations)
    if not services:
        return findings.verdict("no service used in the history")
    for service in services:
        before = dig(observations, "probe_before", "stats", service)
        after = dig(observations, "probe_after", "stats", service)
        if not isinstance(before, dict) or not isinstance(after, dict):
            findings.cannot_check(f"no stats of {service} before and after the run")
            continue
        if not all(isinstance(side.get(name), int) for side in (before, after)
                   for name in OPEN_COUNTERS):
            findings.cannot_check(f"the stats of {service} lack {' or '.join(OPEN_COUNTERS)}")
            continue
        findings.checked += 1
        leaked = [_change(name, before[name], after[name]) for name in OPEN_COUNTERS
                  if before[name] != after[name]]
        if leaked:
            findings.violation(f"{service}: " + ", ".join(leaked), time=_end(history))
    return findings.verdict("")


def _change(name: str, before: Any, after: Any) -> str:
    return f"{name} {after} after the run, {before} before"
