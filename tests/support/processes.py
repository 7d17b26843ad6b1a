"""Process scans over /proc, to check that a command's process group is gone."""

from __future__ import annotations

import os


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process whose process group or session is ``pgid``, zombies too."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp, session = fields[0], int(fields[2]), int(fields[3])
        if pgid in (pgrp, session):
            members.append((int(entry), state))
    return members


def pids_running(marker: str) -> list[int]:
    """Pids whose command line contains ``marker`` (to find a classic command's group)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry))
    return found

