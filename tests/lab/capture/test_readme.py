"""The README's table of lab/capture/ lists each of its modules once."""

from __future__ import annotations

import re

from tests.support.docblocks import ROOT


def test_the_readme_lists_every_capture_module() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- layout-lab-capture:begin -->(.*?)<!-- layout-lab-capture:end -->",
                      text, re.DOTALL)
    assert match is not None, "README.md has no layout-lab-capture table"
    listed = re.findall(r"^\| `capture/([\w.]+)` \|", match.group(1), re.MULTILINE)
    modules = sorted(p.name for p in (ROOT / "lab" / "capture").glob("*.py")
                     if p.name != "__init__.py")
    assert sorted(listed) == modules and len(listed) == len(set(listed))
