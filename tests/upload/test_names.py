"""Name rules: one visible path component, bounded, normalized."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.upload.names import MAX_NAME_BYTES, BadName, clean_name, is_clean

REFUSED = [
    "",
    ".",
    "..",
    "../x",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "..\\x",
    "a\x00b",
    "a\nb",
    "a\rb",
    "tab\there",
    "\x1b[31mred",
    "bell\x07",
    "del\x7f",
    "rtl\u202eexe.txt",
    "zero\u200bwidth",
    "line\u2028sep",
    ".hidden",
    ".netlab-partial",
    " leading",
    "trailing ",
    "x" * (MAX_NAME_BYTES + 1),
    "é" * (MAX_NAME_BYTES // 2 + 1),  # 2 bytes each in UTF-8
    "lone\ud800surrogate",
]


@pytest.mark.parametrize("name", REFUSED)
def test_dangerous_names_are_refused(name: str) -> None:
    with pytest.raises(BadName):
        clean_name(name)
    assert not is_clean(name)


@pytest.mark.parametrize(
    "name", ["report.pdf", "a b c.txt", "x" * MAX_NAME_BYTES, "日本語.txt", "a..b", "v1.0-rc"]
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert clean_name(name) == name
    assert is_clean(name)


def test_names_are_normalized_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "café.txt")
    assert decomposed != "café.txt"
    assert clean_name(decomposed) == "café.txt"
    assert not is_clean(decomposed)  # listing shows only the stored form


@given(st.text(max_size=300))
def test_a_clean_name_is_always_one_safe_component(name: str) -> None:
    try:
        cleaned = clean_name(name)
    except BadName:
        return
    assert cleaned not in {".", ".."}
    assert "/" not in cleaned and "\\" not in cleaned and "\x00" not in cleaned
    assert 0 < len(cleaned.encode("utf-8")) <= MAX_NAME_BYTES
    assert all(unicodedata.category(c)[0] != "C" for c in cleaned)
