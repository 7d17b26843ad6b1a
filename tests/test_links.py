"""Every relative link of the documentation leads somewhere: the file exists, the anchor too.

Pages: README.md, CONTRIBUTING.md and docs/ (those ``tests/test_docs.py``
runs). An anchor is a heading of the target page, as GitHub makes it (lower
case, punctuation dropped, spaces as ``-``, a repeated heading ``-1``,
``-2``...), or an explicit ``<a id="...">``. Links inside code blocks and to
other sites are not followed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.docblocks import ROOT, documents

LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+?)\s*$", re.MULTILINE)
EXPLICIT = re.compile(r'<a (?:id|name)="([^"]+)"')
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
ELSEWHERE = ("http://", "https://", "mailto:")


def prose(path: Path) -> str:
    """The page without its code blocks."""
    return FENCED.sub("", path.read_text(encoding="utf-8"))


def anchors(path: Path) -> set[str]:
    """The anchors a page has: its headings' slugs and its explicit ``<a id>``."""
    text = prose(path)
    found = set(EXPLICIT.findall(text))
    seen: dict[str, int] = {}
    for heading in HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(page)):
        if target.startswith(ELSEWHERE):
            continue
        name, _, anchor = target.partition("#")
        dest = (page.parent / name).resolve() if name else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            where = dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest.name
            broken.append(f"{target}: no such heading in {where}")
    return broken


@pytest.mark.parametrize("page", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_anchors_are_made_as_github_makes_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n## `netlab exec run`\n## Errors\n## Errors\n"
                    "### Modes and the preface\n<a id=\"old-name\"></a>\n"
                    "```text\n# not a heading\n```\n", encoding="utf-8")
    assert anchors(page) == {"title", "netlab-exec-run", "errors", "errors-1",
                             "modes-and-the-preface", "old-name"}
    other = tmp_path / "other.md"
    other.write_text("[a](page.md#errors-1) [b](page.md#nope) [c](gone.md) [d](#x) "
                     "[e](https://example.org/x)\n", encoding="utf-8")
    assert broken_links(other) == ["page.md#nope: no such heading in page.md",
                                   "gone.md: no such file", "#x: no such heading in other.md"]
