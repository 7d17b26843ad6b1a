"""The README's layout tables match the tree, role by role and module by module."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.support.docblocks import ROOT

SERVICES = ("chat", "remote_exec", "upload")
SHARED = ("wire", "runtime")
ROW = re.compile(r"^\| `([\w./]+)` \|")
NOT_LISTED = {"__init__.py", "__main__.py"}


def section(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name}:begin -->(.*?)<!-- {name}:end -->", text, re.DOTALL)
    assert match is not None, f"README.md has no {name} table"
    return match.group(1)


def rows(name: str) -> list[str]:
    return [m.group(1) for line in section(name).splitlines() if (m := ROW.match(line))]


def modules(package: str) -> set[str]:
    folder = ROOT / "services" / package
    return {p.name for p in folder.glob("*.py") if p.name not in NOT_LISTED}


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_file_for_every_role(service: str) -> None:
    roles = rows("roles")
    assert {"events.py", "protocol.py", "session.py", "server.py", "client.py"} <= set(roles)
    assert [role for role in roles if role not in modules(service)] == []


@pytest.mark.parametrize("package", SERVICES + SHARED)
def test_every_module_is_in_a_table_once(package: str) -> None:
    own = rows(f"layout-{package}")
    assert all(row.startswith(f"{package}/") for row in own), own
    names = [row.split("/", 1)[1] for row in own]
    roles = rows("roles") if package in SERVICES else []
    listed = roles + names
    assert len(listed) == len(set(listed)), f"{package}: a module is listed twice"
    assert set(listed) == modules(package)


def test_the_tables_parse() -> None:
    # A row the pattern missed would let a module go unchecked.
    for name in ("roles", *(f"layout-{p}" for p in SERVICES + SHARED)):
        table = [line for line in section(name).splitlines() if line.startswith("| `")]
        assert len(table) == len(rows(name)) > 0, name



def test_every_installed_package_reaches_the_image_build() -> None:
    """The image installs the project from a context that .dockerignore filters."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        patterns = tomllib.load(file)["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in patterns}
    allowed = {line[1:].rstrip("/") for line in
               (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.startswith("!")}
    assert packages <= allowed
    assert packages == {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
