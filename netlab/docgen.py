"""The generated parts of the reference pages, and the command that rewrites them.

A page under ``docs/reference/`` is prose written by hand around parts made
from the code: each part sits between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``. :data:`PAGES` maps each page to ``MODULE`` or
``MODULE:ATTRIBUTE``: the mapping of each NAME to the function that makes it
(``SECTIONS`` by default). ``tests/test_reference_pages.py`` checks that every
page holds exactly what its functions make, so a page cannot drift from the
code; after a change, ``python -m netlab.docgen`` rewrites every page (or the
pages named).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PAGES: dict[str, str] = {
    "docs/reference/python-api.md": "netlab.api_reference",
    "docs/reference/cli.md": "netlab.cli_reference",
    "docs/reference/stats.md": "netlab.stats_reference",
    "docs/reference/protocol/overview.md": "netlab.protocol_reference:OVERVIEW",
    "docs/reference/protocol/chat.md": "netlab.protocol_reference:CHAT",
    "docs/reference/protocol/exec.md": "netlab.protocol_reference:EXEC",
    "docs/reference/protocol/upload.md": "netlab.protocol_reference:UPLOAD",
    "docs/reference/protocol/classic.md": "netlab.protocol_reference:CLASSIC",
}

Sections = Mapping[str, Callable[[], str]]


def sections(page: str) -> Sections:
    """The generated parts of ``page`` (a path relative to the project), by name."""
    module, _, attribute = PAGES[page].partition(":")
    found: Sections = getattr(importlib.import_module(module), attribute or "SECTIONS")
    return found


def marked(name: str) -> re.Pattern[str]:
    """The part called ``name``: its begin marker, its text, its end marker."""
    return re.compile(rf"(<!-- {re.escape(name)}:begin -->\n)(.*?)(<!-- {re.escape(name)}:end -->)",
                      re.DOTALL)


def rewrite(text: str, parts: Sections) -> str:
    """``text`` with every part between its markers made anew (the rest untouched)."""
    for name, make in parts.items():
        text = marked(name).sub(partial(_fill, make().rstrip("\n")), text)
    return text


def _fill(made: str, found: re.Match[str]) -> str:
    return f"{found[1]}{made}\n{found[3]}"


def main(argv: list[str]) -> int:
    """Rewrite the pages named in ``argv`` (default: every page of :data:`PAGES`)."""
    for page in argv or list(PAGES):
        name = Path(page).resolve().relative_to(ROOT).as_posix() if Path(page).exists() else page
        path = ROOT / name
        path.write_text(rewrite(path.read_text(encoding="utf-8"), sections(name)),
                        encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
