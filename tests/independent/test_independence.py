"""The independent clients import nothing of netlab: the standard library, and each other.

What they know of the protocol comes from docs/reference/protocol/ alone;
importing netlab's codec, events or protocol (or anything of ``services``,
``lab``, ``netlab`` or the other tests) would make their passing prove
nothing about the reference.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLIENTS = sorted(HERE / name for name in
                 ("wire.py", "chat_client.py", "exec_client.py", "upload_client.py",
                  "classic_clients.py"))
ALLOWED = {"__future__", "dataclasses", "hashlib", "json", "math", "re", "socket", "struct",
           "time", "typing", "tests.independent.wire"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("path", CLIENTS, ids=lambda p: p.name)
def test_a_client_imports_only_the_standard_library(path: Path) -> None:
    assert sorted(imports(path) - ALLOWED) == []


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import json\nfrom services.wire import frames\nfrom . import x\n"
                      "def f():\n    import lab.cli\n", encoding="utf-8")
    assert imports(module) - ALLOWED == {"services.wire", ".", "lab.cli"}
