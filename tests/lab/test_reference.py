"""docs/harness.md's reference tables are what the code makes (python -m lab.reference)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.reference import TABLES, rewrite, section

HARNESS_DOC = Path(__file__).resolve().parents[2] / "docs" / "harness.md"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_harness_doc_has_the_table(name: str) -> None:
    found = section(name).search(HARNESS_DOC.read_text(encoding="utf-8"))
    assert found is not None, f"docs/harness.md lacks <!-- {name}:begin/end --> markers"
    assert found[2].strip() == TABLES[name]().strip(), (
        f"the {name} table of docs/harness.md is stale: run "
        "`python -m lab.reference docs/harness.md`")


def test_rewrite_fills_only_between_the_markers() -> None:
    text = "intro\n<!-- faults:begin -->\nSTALE-LINE\n<!-- faults:end -->\noutro\n"
    new = rewrite(text)
    assert new.startswith("intro\n<!-- faults:begin -->\n| fault |")
    assert new.endswith("<!-- faults:end -->\noutro\n")
    assert "STALE-LINE" not in new


def test_every_fault_kind_is_documented_with_its_expected_outcome() -> None:
    table = TABLES["faults"]()
    from lab.faults.base import FAULT_KINDS
    real = [kind for kind, cls in FAULT_KINDS.items() if cls.__module__.startswith("lab.faults.")]
    assert len(real) >= 20
    for kind in real:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{kind}` |"))
        assert FAULT_KINDS[kind].expected.split()[0] in row
