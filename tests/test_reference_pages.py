"""The generated parts of docs/reference/ are what the code makes (python -m netlab.docgen)."""

from __future__ import annotations

import pytest

from netlab.docgen import PAGES, ROOT, marked, rewrite, sections

PARTS = [(page, name) for page in PAGES for name in sections(page)]


@pytest.mark.parametrize(("page", "name"), PARTS, ids=[f"{p}:{n}" for p, n in PARTS])
def test_the_page_holds_what_the_code_makes(page: str, name: str) -> None:
    found = marked(name).search((ROOT / page).read_text(encoding="utf-8"))
    assert found is not None, f"{page} lacks <!-- {name}:begin/end --> markers"
    assert found[2].rstrip("\n") == sections(page)[name]().rstrip("\n"), (
        f"the {name} part of {page} is stale: run `python -m netlab.docgen {page}`")


def test_rewrite_fills_only_between_the_markers() -> None:
    text = "intro\n<!-- part:begin -->\nSTALE\n<!-- part:end -->\noutro\n"
    assert rewrite(text, {"part": lambda: "fresh\n"}) == (
        "intro\n<!-- part:begin -->\nfresh\n<!-- part:end -->\noutro\n")


def test_rewrite_leaves_a_page_without_the_markers_alone() -> None:
    assert rewrite("no markers\n", {"part": lambda: "fresh"}) == "no markers\n"


def test_every_page_of_the_reference_is_generated_in_part() -> None:
    for page in PAGES:
        assert (ROOT / page).is_file(), page
        assert sections(page), page
