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


LAYER_ROOTS = {"services.wire": 0, "services.runtime": 1}
SERVICE_PACKAGES = ("services.chat", "services.remote_exec", "services.upload")


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).parts[:2])


@pytest.mark.parametrize(
    "path", sorted((SERVICES / "wire").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_wire_layer_is_sans_io(path: Path) -> None:
    """No Trio, no sockets, nothing above it: bytes in, events out."""
    forbidden = ("trio", "socket", "asyncio", "selectors", "services.")
    bad = [m for m in imported_modules(path)
           if m.startswith(forbidden) and not m.startswith("services.wire")]
    assert bad == []


@pytest.mark.parametrize(
    "path", sorted((SERVICES / "runtime").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_runtime_serves_every_service_and_knows_none(path: Path) -> None:
    assert [m for m in imported_modules(path) if m.startswith(SERVICE_PACKAGES)] == []


@pytest.mark.parametrize("service", SERVICE_PACKAGES)
def test_services_do_not_import_each_other(service: str) -> None:
    folder = ROOT.joinpath(*service.split("."))
    others = tuple(p for p in SERVICE_PACKAGES if p != service)
    for path in sorted(folder.rglob("*.py")):
        assert [m for m in imported_modules(path) if m.startswith(others)] == [], path
