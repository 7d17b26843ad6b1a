"""What a fault calls the things it creates, derived from the fault value alone.

A fault holds no state between ``apply`` and ``revert``; both compute the
same :func:`fault_key` (kind + digest of the fault's JSON), which names a
toxic or labels a container, so ``revert`` finds what ``apply`` made, also
in another process (a replay, a cleanup).
"""

from __future__ import annotations

import hashlib
import json

from lab.faults.base import Fault


def fault_key(fault: Fault) -> str:
    """``KIND-DIGEST``: stable for equal faults, across runs."""
    text = json.dumps(fault.to_json(), sort_keys=True, separators=(",", ":"))
    return f"{fault.kind}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
