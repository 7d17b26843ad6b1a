"""Upload invariants: a file is complete or absent under its name; a resumed upload completes.

The upload clients' ops (see ``lab.fleet``), all carrying the upload's
``op``: ``invoke put {"name", "size", "sha256"}``; ``info progress``; then
``ok put`` (STORED), ``fail put`` (an explicit refusal) or ``info put`` (the
upload broke); with resume, ``invoke resume {"name"}`` and again one of the
three. ``observations["upload"]["files"]`` lists the files in the root of
the upload directory (``{name: {"size", "sha256"}}``), taken after the run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from lab.history import History, Op
from lab.invariants.attribution import fault_windows, silenced_by
from lab.invariants.observations import Observations, dig
from lab.invariants.violations import Findings, Verdict

OUTCOMES = {("ok", "put"), ("fail", "put"), ("info", "put")}


@dataclass(frozen=True)
class Upload:
    """One upload's ops, from its ``invoke put``."""

    put: Op
    ops: tuple[Op, ...]

    @property
    def name(self) -> str:
        return str(self.put.value.get("name"))

    @property
    def size(self) -> Any:
        return self.put.value.get("size")

    @property
    def sha256(self) -> Any:
        return self.put.value.get("sha256")

    def outcomes(self) -> list[Op]:
        return [op for op in self.ops if (op.type, op.f) in OUTCOMES]

    def stored(self) -> bool:
        return any(op.type == "ok" and op.f == "put" for op in self.ops)


def uploads(history: History) -> list[Upload]:
    """Every upload of the history, in order of its ``invoke put``."""
    puts: dict[str, Op] = {}
    ops: dict[str, list[Op]] = defaultdict(list)
    for op in history.ops:
        if op.f not in ("put", "resume", "progress"):
            continue
        op_id = str(op.value.get("op"))
        if op.type == "invoke" and op.f == "put":
            puts.setdefault(op_id, op)
        ops[op_id].append(op)
    return [Upload(put, tuple(ops[op_id])) for op_id, put in puts.items()]


def _files(findings: Findings, observations: Observations) -> dict[str, Any] | None:
    files = dig(observations, "upload", "files")
    if not isinstance(files, dict):
        findings.cannot_check("no list of the upload directory's files (upload.files)")
        return None
    return files


def _matches(entry: Any, upload: Upload) -> bool:
    return (isinstance(entry, dict) and entry.get("size") == upload.size
            and entry.get("sha256") == upload.sha256)


def check_complete_or_absent(history: History, observations: Observations) -> Verdict:
    """``upload.complete-or-absent``: under each name the fleet used, the whole file or nothing.

    A file present under an upload's name must have exactly the size and
    SHA-256 of its ``invoke put`` (else a partial, or someone else's bytes,
    took the final name). A file acknowledged as stored (``ok put``) must be
    present: STORED is a promise. Unknown without the file list.
    """
    findings = Findings("upload.complete-or-absent", "file names")
    all_uploads = uploads(history)
    if not all_uploads:
        return findings.verdict("no upload in the history")
    files = _files(findings, observations)
    if files is None:
        return findings.verdict("")
    by_name: dict[str, list[Upload]] = defaultdict(list)
    for upload in all_uploads:
        by_name[upload.name].append(upload)
    for name, group in by_name.items():
        findings.checked += 1
        last = group[-1].ops[-1]
        entry = files.get(name)
        if entry is None:
            stored = next((u for u in group if u.stored()), None)
            if stored is not None:
                findings.violation(f"{name} was acknowledged as stored but is absent",
                                   time=stored.ops[-1].time, process=stored.put.process)
        elif not any(_matches(entry, upload) for upload in group):
            got = entry if isinstance(entry, dict) else {}
            findings.violation(
                f"{name} is on disk with {got.get('size')} bytes, sha256 "
                f"{str(got.get('sha256'))[:12]}..., not the {group[0].size} bytes, sha256 "
                f"{str(group[0].sha256)[:12]}... declared: a partial under the final name",
                time=last.time, process=last.process)
    return findings.verdict("")


def check_resume(history: History, observations: Observations) -> Verdict:
    """``upload.resume``: an upload that broke and was resumed completes.

    For each upload with an ``info put`` (it broke) or a ``fail put`` (the
    server refused to go on, e.g. ``shutting-down``, keeping what it had)
    followed by an ``invoke resume``,
    the outcome after the last resume must be ``ok put`` with the declared
    SHA-256, and the file must be on disk whole (size and hash). A ``fail
    put`` after a resume is a violation (the server lost what it kept); an
    ``info put`` after it is forgiven when a fault overlaps that attempt
    (it broke again) and a violation otherwise; no outcome at all is a
    violation, unless a container fault killed the client (it wrote nothing
    after). Uploads that were not resumed are not checked here.
    """
    findings = Findings("upload.resume", "resumed uploads")
    resumed = [u for u in uploads(history) if _resumed_after_break(u)]
    if not resumed:
        return findings.verdict("no upload broke and was resumed")
    files = _files(findings, observations)
    windows = fault_windows(history)
    broke_again = killed = 0
    for upload in resumed:
        last_resume = max(i for i, op in enumerate(upload.ops)
                          if op.type == "invoke" and op.f == "resume")
        outcome = next((op for op in upload.ops[last_resume:] if (op.type, op.f) in OUTCOMES),
                       None)
        start = upload.ops[last_resume]
        where = {"process": upload.put.process}
        if outcome is None and silenced_by(upload.put.process, history.ops, windows) is not None:
            killed += 1
        elif outcome is None:
            findings.checked += 1
            findings.violation(f"{upload.name}: the resume never ended", time=start.time, **where)
        elif outcome.type == "info":
            if any(w.overlaps(start.time, outcome.time) for w in windows):
                broke_again += 1
                continue
            findings.checked += 1
            findings.violation(f"{upload.name}: the resume broke ({outcome.value.get('error')}) "
                               "with no fault active", time=outcome.time, **where)
        elif outcome.type == "fail":
            findings.checked += 1
            findings.violation(f"{upload.name}: the resume was refused: "
                               f"{outcome.value.get('code')} {outcome.value.get('message')}",
                               time=outcome.time, **where)
        else:
            findings.checked += 1
            if outcome.value.get("sha256") != upload.sha256:
                findings.violation(f"{upload.name}: stored with sha256 "
                                   f"{outcome.value.get('sha256')}, not the declared one",
                                   time=outcome.time, **where)
            elif files is not None and not _matches(files.get(upload.name), upload):
                findings.violation(f"{upload.name}: acknowledged after the resume but not "
                                   "whole on disk", time=outcome.time, **where)
    if broke_again:
        findings.note(f"{broke_again} resume(s) broke again under a fault")
    if killed:
        findings.note(f"{killed} resume(s) of clients killed by a fault, not checked")
    return findings.verdict("every resume broke again under a fault")


def _resumed_after_break(upload: Upload) -> bool:
    broke = False
    for op in upload.ops:
        if op.type in ("info", "fail") and op.f == "put":
            broke = True
        elif broke and op.type == "invoke" and op.f == "resume":
            return True
    return False
