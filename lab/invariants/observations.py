"""What the runner observed besides the history, as the checkers read it.

A JSON-able mapping (host side, taken after the run; see ``lab.observe`` and
``lab probe``)::

    {"exec": {"leftovers": [cmdline, ...], "ran": {marker: count}},
     "upload": {"files": {name: {"size": int, "sha256": hex}}},
     "probe_before": {"serves": {...}, "stats": {service: counters | null}},
     "probe_after":  {"serves": {service: {"ok": bool, "error": str | null}},
                      "stats": {service: counters | null}},
     "timeouts": {"chat_cutoff": seconds, "chat_delivery": seconds},
     "services": [service, ...]}

Any part may be missing or ``null`` (a twin has no stats port, a scenario no
upload): :func:`dig` returns None for it, and the checker that needs it says
"unknown".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Observations = Mapping[str, Any]


def dig(observations: Observations, *keys: str) -> Any:
    """``observations[k1][k2]...``, or None where a level is missing, null or not a mapping."""
    node: Any = observations
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def seconds(observations: Observations, name: str) -> float | None:
    """A timeout from ``observations["timeouts"]`` (None when absent or not a number)."""
    value = dig(observations, "timeouts", name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
