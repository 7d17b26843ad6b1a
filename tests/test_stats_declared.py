"""Every figure a server counts is declared (docs/reference/stats.md is made from those).

The code counts a service figure as ``ctx.count("name")`` or
``counters.extra["name"]``, an error as ``counters.error("reason")`` (or
under a protocol error code). Parsing each server's modules finds the names
written there: a name counted and not declared in the server's ``stats.py``
(or, for every server, in ``services/runtime/counters.py``) fails, and so
does a declared name that no code writes. A part that varies is ``{...}``
in a declaration and an f-string in the code: ``ended_{stop}`` matches
``f"ended_{outcome.stop.value}"``.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from pathlib import Path

import pytest

from netlab.stats_reference import SERVERS, ServerStats, error_codes
from services.runtime import counters
from services.runtime.counters import MEANING, Counters, Figure
from tests.support.docblocks import ROOT

RUNTIME = ROOT / "services" / "runtime"
# Where a server's error reasons are written, besides its own package.
ALSO_SCANNED = {"gateway": [ROOT / "lab" / "relay.py"]}


def canonical(node: ast.expr) -> str | None:
    """A string literal as written, an f-string with ``{}`` for each part that varies."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}"
                       for part in node.values)
    return None


def declared(figures: tuple[Figure, ...]) -> set[str]:
    return {re.sub(r"\{[^}]*\}", "{}", figure.name) for figure in figures}


def _trees(paths: list[Path]) -> list[ast.AST]:
    return [ast.parse(path.read_text(encoding="utf-8")) for path in paths]


def _is_extra(node: ast.expr) -> bool:
    return ((isinstance(node, ast.Attribute) and node.attr == "extra")
            or (isinstance(node, ast.Name) and node.id == "extra"))


def names_counted(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The ``extra`` names and the error reasons one module counts, as literals."""
    extra: set[str] = set()
    reasons: set[str] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.args and (name := canonical(node.args[0])) is not None):
            if node.func.attr == "count":
                extra.add(name)
            elif node.func.attr == "error":
                reasons.add(name)
        if (isinstance(node, ast.Subscript) and _is_extra(node.value)
                and (name := canonical(node.slice)) is not None):
            extra.add(name)
    return extra, reasons


def counted(paths: list[Path]) -> tuple[set[str], set[str]]:
    """The ``extra`` names and the error reasons ``paths`` count, as literals."""
    extra: set[str] = set()
    reasons: set[str] = set()
    for tree in _trees(paths):
        found_extra, found_reasons = names_counted(tree)
        extra |= found_extra
        reasons |= found_reasons
    return extra, reasons


def strings(paths: list[Path]) -> set[str]:
    """Every string literal (and f-string pattern) written in ``paths``."""
    return {text for tree in _trees(paths) for node in ast.walk(tree)
            if isinstance(node, ast.expr) and (text := canonical(node)) is not None}


def modules(server: ServerStats) -> list[Path]:
    return [*sorted((ROOT / server.package).glob("*.py")), *ALSO_SCANNED.get(server.name, [])]


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.name)
def test_every_extra_figure_counted_is_declared_and_every_declared_one_counted(
        server: ServerStats) -> None:
    stats = importlib.import_module(server.stats)
    extra, _ = counted(modules(server))
    assert len(extra) >= 4
    assert sorted(extra - declared(stats.EXTRA)) == [], (
        f"counted but not declared in {server.stats}")
    assert sorted(declared(stats.EXTRA) - extra) == [], (
        f"declared in {server.stats} but counted nowhere")


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.name)
def test_every_error_reason_written_is_declared_or_a_protocol_code(server: ServerStats) -> None:
    stats = importlib.import_module(server.stats)
    _, reasons = counted(modules(server))
    known = declared(stats.ERROR_REASONS) | declared(counters.ERROR_REASONS)
    if server.codes is not None:
        known |= set(error_codes(server))
    assert sorted(reasons - known) == []
    written = strings(modules(server))
    assert sorted(declared(stats.ERROR_REASONS) - written) == [], (
        f"declared in {server.stats} but written nowhere")


def test_the_gateway_line_has_the_routes_declared() -> None:
    from lab.gateway.routes import Route
    from lab.gateway.server import Gateway, GatewayConfig
    from lab.gateway.stats import ROUTES

    gateway = Gateway(GatewayConfig(routes=(Route.parse("chat@8000=127.0.0.1:1"),)))
    snapshot = gateway.counters.snapshot()
    assert set(snapshot) == {f.name for f in dataclasses.fields(Counters)} | {"routes"}
    assert set(snapshot["routes"]["chat"]) == {figure.name for figure in ROUTES}


def test_every_field_of_the_counters_is_in_the_line_and_explained() -> None:
    snapshot = Counters().snapshot()
    assert list(snapshot) == [f.name for f in dataclasses.fields(Counters)]
    assert all(f.metadata.get(MEANING) for f in dataclasses.fields(Counters))


def test_the_runtime_declares_what_every_server_counts() -> None:
    paths = sorted(RUNTIME.glob("*.py"))
    extra, reasons = counted(paths)
    assert extra == declared(counters.EXTRA)
    assert reasons == declared(counters.ERROR_REASONS)


def test_the_scan_finds_counts_written_every_way() -> None:
    code = ("ctx.count('a')\nself.ctx.count(f'b_{x.y}')\ncounters.extra['c'] += 1\n"
            "extra['d'] = 2\nself.counters.error('e-f')\nself.counters.error(code)\n"
            "buffer.count(b'\\n')\n")
    assert names_counted(ast.parse(code)) == ({"a", "b_{}", "c", "d"}, {"e-f"})
    assert declared((Figure("ended_{stop}", "x"),)) == {"ended_{}"}
