"""Dependencies point down: ``services`` never imports ``lab`` or ``netlab``.

``netlab`` (the root command) may import both; ``lab`` may import ``services``.
Every module under ``services/`` is parsed, so an import inside a function or
behind ``TYPE_CHECKING`` counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
ABOVE_SERVICES = ("lab", "netlab")


def imported_modules(path: Path) -> list[str]:
    """Every absolute module name ``path`` imports, wherever the import statement is."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def is_above_services(module: str) -> bool:
    return module.split(".")[0] in ABOVE_SERVICES


@pytest.mark.parametrize(
    "path", sorted(SERVICES.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_services_import_nothing_from_the_lab_or_the_root_command(path: Path) -> None:
    assert [m for m in imported_modules(path) if is_above_services(m)] == []


def test_the_check_sees_imports_anywhere_in_a_module(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\n"
        "def f():\n    from lab.gateway import cli\n"
        "if False:\n    import netlab.cli as c\n",
        encoding="utf-8",
    )
    assert [m for m in imported_modules(module) if is_above_services(m)] == [
        "lab.gateway", "netlab.cli"
    ]
