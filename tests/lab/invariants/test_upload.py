"""upload.complete-or-absent and upload.resume on small hand-written histories."""

from __future__ import annotations

from typing import Any

from lab.history import Op, OpType
from lab.invariants.upload import check_complete_or_absent, check_resume
from tests.lab.invariants.builders import H, fault

P = "obs.upload-0"
NAME = "obs-upload0-0-s7.bin"
SHA = "5e" * 32
SIZE = 3_000_000


def put(time: float, op: str = "obs.upload-0/0", name: str = NAME) -> Op:
    return Op(time, P, "invoke", "put", {"op": op, "name": name, "size": SIZE, "sha256": SHA})


def outcome(time: float, kind: str, op: str = "obs.upload-0/0", **value: Any) -> Op:
    ops: dict[str, tuple[OpType, str, dict[str, Any]]] = {
        "ok": ("ok", "put", {"name": NAME, "sha256": SHA}),
        "fail": ("fail", "put", {"code": "exists", "message": "no"}),
        "info": ("info", "put", {"error": "reset"}),
        "resume": ("invoke", "resume", {"name": NAME})}
    type_, f, base = ops[kind]
    return Op(time, P, type_, f, {"op": op, **base, **value})


def on_disk(size: int = SIZE, sha256: str = SHA) -> dict[str, Any]:
    return {"upload": {"files": {NAME: {"size": size, "sha256": sha256}}}}


NOTHING: dict[str, Any] = {"upload": {"files": {}}}


# upload.complete-or-absent


def test_a_stored_file_whole_on_disk_passes() -> None:
    verdict = check_complete_or_absent(H(put(1), outcome(2, "ok")), on_disk())
    assert (verdict.status, verdict.checked) == ("pass", 1)


def test_a_broken_upload_with_nothing_under_its_name_passes() -> None:
    assert check_complete_or_absent(H(put(1), outcome(2, "info")), NOTHING).status == "pass"


def test_a_partial_under_the_final_name_fails() -> None:
    history = H(put(1), outcome(2, "info"))
    [violation] = check_complete_or_absent(history, on_disk(size=1_048_576)).violations
    assert "on disk with 1048576 bytes" in violation.message
    assert "a partial under the final name" in violation.message
    assert (violation.process, violation.time) == (P, 2)


def test_a_file_acknowledged_but_absent_fails() -> None:
    [violation] = check_complete_or_absent(H(put(1), outcome(2, "ok")), NOTHING).violations
    assert violation.message == f"{NAME} was acknowledged as stored but is absent"


def test_complete_or_absent_is_unknown_without_the_file_list_or_uploads() -> None:
    assert check_complete_or_absent(H(put(1), outcome(2, "ok")), {}).status == "unknown"
    assert check_complete_or_absent(H(), on_disk()).status == "unknown"


# upload.resume


def test_a_resume_that_completes_passes() -> None:
    history = H(put(1), outcome(2, "info"), outcome(3, "resume"), outcome(4, "ok"))
    verdict = check_resume(history, on_disk())
    assert (verdict.status, verdict.checked) == ("pass", 1)


def test_a_resume_after_a_refusal_that_kept_the_bytes_is_checked() -> None:
    history = H(put(1), outcome(2, "fail"), outcome(3, "resume"), outcome(4, "ok"))
    verdict = check_resume(history, on_disk())
    assert verdict.status == "pass" and verdict.checked == 1


def test_a_refused_resume_fails() -> None:
    history = H(put(1), outcome(2, "info"), outcome(3, "resume"), outcome(4, "fail"))
    [violation] = check_resume(history, on_disk()).violations
    assert "the resume was refused: exists no" in violation.message


def test_a_resume_stored_with_another_hash_or_not_on_disk_fails() -> None:
    history = H(put(1), outcome(2, "info"), outcome(3, "resume"), outcome(4, "ok", sha256="00"))
    assert "not the declared one" in check_resume(history, on_disk()).violations[0].message
    whole = H(put(1), outcome(2, "info"), outcome(3, "resume"), outcome(4, "ok"))
    [violation] = check_resume(whole, on_disk(size=10)).violations
    assert "not whole on disk" in violation.message


def test_a_resume_that_breaks_again_is_forgiven_only_under_a_fault() -> None:
    again = [put(1), outcome(2, "info"), outcome(3, "resume"), outcome(5, "info")]
    assert check_resume(H(*again), on_disk()).status == "fail"
    assert check_resume(H(*again, fault(4, 4.5)), on_disk()).status == "unknown"
    later = H(*again, outcome(6, "resume"), outcome(7, "ok"), fault(4, 4.5))
    assert check_resume(later, on_disk()).status == "pass"


def test_a_resume_that_never_ends_fails() -> None:
    history = H(put(1), outcome(2, "info"), outcome(3, "resume"))
    [violation] = check_resume(history, on_disk()).violations
    assert "never ended" in violation.message


def test_resume_is_unknown_without_a_resumed_upload_or_without_the_file_list() -> None:
    assert check_resume(H(put(1), outcome(2, "info")), on_disk()).status == "unknown"
    assert check_resume(H(put(1), outcome(2, "ok")), on_disk()).status == "unknown"
    history = H(put(1), outcome(2, "info"), outcome(3, "resume"), outcome(4, "ok"))
    assert check_resume(history, {}).status == "unknown"


def test_a_resume_of_a_killed_client_is_not_checked() -> None:
    history = H(put(1), outcome(2, "info"), outcome(3, "resume"),
                fault(4, 4.1, "kill-client(fleet=obs)", "container"))
    verdict = check_resume(history, on_disk())
    assert verdict.status == "unknown" and "killed by a fault" in verdict.detail
