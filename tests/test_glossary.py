"""docs/learn/glossary.md: one heading a term, and every page that teaches links its terms there.

The rule: in each page of docs/learn/ and docs/exercises/, the first use of
a glossary term in the prose (code blocks, inline code, headings, HTML
comments and file names left out) is a link to ``glossary.md#ANCHOR``.
Later uses need no link. A term matches whole words, case-insensitively
unless it is written with a capital (``ACK`` is not the exec protocol's
``ack``, ``Nagle`` is not the exercise ``nagle``), with an ``s``, ``es``, ``d``, ``ed`` or ``ing``
ending, its words separated by spaces, newlines or hyphens as written
(``half-close`` is not ``halfclose``); a longer term takes its words from a
shorter one (``delayed ACK`` is not a use of ``ACK``). Anchors are made as
GitHub makes them from the heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.docblocks import ROOT

LEARN = ROOT / "docs" / "learn"
GLOSSARY = LEARN / "glossary.md"
PAGES = sorted(p for folder in (LEARN, ROOT / "docs" / "exercises")
               for p in folder.glob("*.md") if p != GLOSSARY)
TERM_HEADING = re.compile(r"^## (.+?)\s*$", re.MULTILINE)
LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]*)\)")
SUFFIX = r"(?:s|es|d|ed|ing)?"
# What is not prose: code, headings, comments, file names and addresses.
NOT_PROSE = [
    re.compile(r"^(`{3,}|~{3,}).*?^\1\s*$", re.MULTILINE | re.DOTALL),  # fenced blocks
    re.compile(r"(`+).+?\1", re.DOTALL),  # inline code
    re.compile(r"^#{1,6} .*$", re.MULTILINE),  # headings
    re.compile(r"<!--.*?-->", re.DOTALL),
    re.compile(r"\]\([^)]*\)"),  # link targets (their text stays prose)
    re.compile(r"\bhttps?://\S+"),
    re.compile(r"[\w./-]+\.(?:md|py|pcap|json|yaml)\b"),
]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@dataclass(frozen=True)
class Term:
    name: str

    @property
    def anchor(self) -> str:
        return slug(self.name)

    @property
    def pattern(self) -> re.Pattern[str]:
        words = [re.escape(word) for word in re.split(r"[\s-]+", self.name)]
        separators = re.findall(r"[\s-]+", self.name)
        body = words[0]
        for separator, word in zip(separators, words[1:], strict=True):
            body += (r"-" if "-" in separator else r"\s+") + word
        exact = any(ch.isupper() for ch in self.name)
        body = body if exact else f"(?i:{body})"
        return re.compile(rf"(?<![\w-]){body}{SUFFIX}(?![\w])")


def terms() -> list[Term]:
    return [Term(name) for name in TERM_HEADING.findall(GLOSSARY.read_text(encoding="utf-8"))]


def prose_mask(text: str) -> str:
    """``text`` with everything that is not prose blanked out (offsets and lines kept)."""
    masked = text
    for pattern in NOT_PROSE:
        masked = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), masked)
    return masked


def first_uses(text: str, all_terms: list[Term]) -> dict[Term, tuple[int, int]]:
    """Each term's first use in the prose of ``text``: where it starts and ends (longer
    terms win overlaps)."""
    prose = prose_mask(text)
    found: list[tuple[int, int, Term]] = []
    for term in all_terms:
        found += [(m.start(), m.end(), term) for m in term.pattern.finditer(prose)]
    found.sort(key=lambda hit: (hit[0], -(hit[1] - hit[0])))
    first: dict[Term, tuple[int, int]] = {}
    covered_until = -1
    for start, end, term in found:
        if start < covered_until:
            continue  # inside a longer term's match
        covered_until = end
        first.setdefault(term, (start, end))
    return first


def link_at(text: str, offset: int) -> str | None:
    """The target of the link whose text holds ``offset`` (``None``: not in a link)."""
    for link in LINK.finditer(text):
        if link.start("text") <= offset < link.end("text"):
            return link.group("target")
    return None


def glossary_anchor(page: Path, target: str) -> str | None:
    """The glossary anchor ``target`` (a link in ``page``) points at, or ``None``."""
    path, _, anchor = target.partition("#")
    if path and (page.parent / path).resolve() == GLOSSARY.resolve():
        return anchor
    return None


def unlinked_first_uses(page: Path) -> list[str]:
    """One line per term whose first use in ``page`` is not linked to its glossary entry."""
    text = page.read_text(encoding="utf-8")
    target = "glossary.md" if page.parent == LEARN else "../learn/glossary.md"
    problems = []
    for term, (start, end) in sorted(first_uses(text, terms()).items(), key=lambda kv: kv[1]):
        link = link_at(text, start)
        if link is None or glossary_anchor(page, link) != term.anchor:
            line = text.count("\n", 0, start) + 1
            seen = f"links to {link}" if link is not None else "is not a link"
            words = " ".join(text[start:end].split())
            problems.append(f"{page.relative_to(ROOT)}:{line}: the first use of {term.name!r} "
                            f"{seen}; write [{words}]({target}#{term.anchor})")
    return problems


def test_the_glossary_has_terms_in_order_each_once() -> None:
    names = [term.name for term in terms()]
    assert len(names) >= 20
    assert names == sorted(names, key=str.lower), "keep the glossary in alphabetical order"
    anchors = [term.anchor for term in terms()]
    assert len(set(anchors)) == len(anchors)


def test_every_term_has_a_definition() -> None:
    sections = TERM_HEADING.split(GLOSSARY.read_text(encoding="utf-8"))[2::2]
    assert all(len(body.split()) >= 15 for body in sections)


ALL_PAGES = [*PAGES, ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", ALL_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_glossary_link_has_a_term(page: Path) -> None:
    anchors = {term.anchor for term in terms()}
    text = page.read_text(encoding="utf-8")
    broken = [link.group("target") for link in LINK.finditer(text)
              if glossary_anchor(page, link.group("target")) not in (None, "", *anchors)]
    assert broken == [], f"{page.relative_to(ROOT)}: no such glossary term: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_term_is_linked_to_the_glossary_where_a_page_first_uses_it(page: Path) -> None:
    problems = unlinked_first_uses(page)
    assert problems == [], "\n".join(problems)


# -- the rule's own tests: small pages of their own ---------------------------------------
SAMPLE_TERMS = [Term("ACK"), Term("delayed ACK"), Term("half-close"), Term("byte stream")]


def test_a_term_matches_whole_words_plurals_and_line_breaks() -> None:
    text = "the byte\nstreams and ACKs, a half-closed one; an ack is not, nor halfclose"
    uses = first_uses(text, SAMPLE_TERMS)
    assert {term.name: text[start:end] for term, (start, end) in uses.items()} == {
        "byte stream": "byte\nstreams", "ACK": "ACKs", "half-close": "half-closed"}


def test_code_headings_and_file_names_are_not_prose() -> None:
    text = "# ACK\n`ACK` and\n```\nACK\n```\nsee ack.md, then a delayed ACK, then an ACK"
    uses = first_uses(text, SAMPLE_TERMS)
    assert uses[Term("delayed ACK")] == (text.index("delayed"), text.index(", then an"))
    assert uses[Term("ACK")] == (len(text) - 3, len(text))


def test_a_link_is_found_by_its_text_and_resolved_against_the_page() -> None:
    text = "an [ACK](glossary.md#ack), an [ACK](nagle.md#x) and an ACK"
    assert link_at(text, text.index("ACK")) == "glossary.md#ack"
    assert link_at(text, text.index("ACK", 10)) == "nagle.md#x"
    assert link_at(text, len(text) - 1) is None
    assert glossary_anchor(LEARN / "nagle.md", "glossary.md#ack") == "ack"
    exercise = ROOT / "docs" / "exercises" / "x.md"
    assert glossary_anchor(exercise, "../learn/glossary.md#fin") == "fin"
    assert glossary_anchor(LEARN / "nagle.md", "nagle.md#ack") is None


def test_a_capitalised_term_matches_its_case_only() -> None:
    uses = first_uses("the nagle exercise, then Nagle's algorithm", [Term("Nagle")])
    assert uses == {Term("Nagle"): (25, 30)}
