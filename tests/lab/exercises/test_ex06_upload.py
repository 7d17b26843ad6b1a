"""Exercise 6's own parts: when a reply is whole, and how a stored file is compared."""

from __future__ import annotations

from pathlib import Path

from lab.exercises.ex06_upload import _complete, _stored


def test_a_reply_is_complete_when_it_is_a_word_or_can_no_longer_become_one() -> None:
    assert _complete(b"true") and _complete(b"false")
    assert not _complete(b"") and not _complete(b"t") and not _complete(b"fal")
    assert _complete(b"x") and _complete(b"truex")


def test_a_stored_file_is_compared_byte_for_byte(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"hello")
    assert _stored(tmp_path, "a.bin", b"hello") == ""
    assert "differ from byte 1" in _stored(tmp_path, "a.bin", b"hallo")
    assert "holds 5 bytes, not the 10" in _stored(tmp_path, "a.bin", b"helloworld")
    assert "no file 'b.bin'" in _stored(tmp_path, "b.bin", b"x")
