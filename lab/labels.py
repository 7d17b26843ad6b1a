"""Labels put on every Docker object the harness creates; cleanup goes by label."""

from __future__ import annotations

import uuid

LABEL_PREFIX = "org.netlab"
LAB_LABEL = f"{LABEL_PREFIX}.lab"
SESSION_LABEL = f"{LABEL_PREFIX}.session"
SESSION_ID = uuid.uuid4().hex[:12]


def labels(**extra: str) -> dict[str, str]:
    """The labels of one object created in this process's session."""
    base = {LAB_LABEL: "true", SESSION_LABEL: SESSION_ID}
    base.update({f"{LABEL_PREFIX}.{key}": value for key, value in extra.items()})
    return base


def session_filter() -> dict[str, list[str]]:
    """A docker SDK ``filters`` value matching the objects of this session."""
    return {"label": [f"{LAB_LABEL}=true", f"{SESSION_LABEL}={SESSION_ID}"]}
