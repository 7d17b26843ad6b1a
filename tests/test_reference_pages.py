"""The generated parts of docs/reference/ are what the code makes (python -m netlab.docgen)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netlab.cli_reference import ROOTS, commands
from netlab.docgen import PAGES, ROOT, marked, rewrite, sections
from services.runtime.options import exit_statuses, read_exit_statuses

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


def _netlab_variables(path: Path) -> set[str]:
    return set(re.findall(r"NETLAB_[A-Z][A-Z_]*[A-Z]", path.read_text(encoding="utf-8")))


def test_cli_md_names_every_environment_variable_netlab_reads() -> None:
    sources = [p for folder in ("services", "lab", "netlab") for p in (ROOT / folder).rglob("*.py")]
    sources += [*(ROOT / "scripts").iterdir(), ROOT / "compose.yaml", ROOT / "Dockerfile"]
    read = set().union(*(_netlab_variables(path) for path in sources if path.is_file()))
    documented = _netlab_variables(ROOT / "docs" / "reference" / "cli.md")
    assert len(read) > 20
    assert sorted(read - documented) == []


def test_every_exit_status_of_the_exec_client_is_listed_by_netlab_exec_run() -> None:
    from services.remote_exec import cli, client
    constants = {value for module in (client, cli) for name, value in vars(module).items()
                 if name.startswith("EXIT_") and isinstance(value, int)}
    assert {69, 76, 77, 124, 125, 130} <= constants
    listed = read_exit_statuses(cli.run_command.epilog)
    assert sorted(constants - {int(code) for code in listed if code.isdigit()}) == []


def test_exit_statuses_read_back_as_written() -> None:
    statuses = {"0": "done", "128+N": "signal N  ended it", "2": "usage"}
    assert read_exit_statuses(exit_statuses(statuses)) == statuses
    assert read_exit_statuses("an epilog of another kind") == {}
    assert read_exit_statuses(None) == {}


def test_every_command_of_both_trees_is_on_the_page() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    paths = [ctx.command_path for name, root in ROOTS.items() for ctx in commands(root, name)]
    assert {"netlab exec run", "lab scenario run", "lab bench-load upload netlab"} <= set(paths)
    assert [path for path in paths if f"`{path}`" not in page] == []
