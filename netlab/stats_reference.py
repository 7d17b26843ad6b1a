"""``docs/reference/stats.md``'s generated parts: every server's counters, field by field.

Made from the declarations: the fields of
:class:`services.runtime.counters.Counters` (their meaning in the field's
metadata), the transport failures of :mod:`services.runtime.errors` (each
class's ``reason``), the figures every server shares (``counters.EXTRA``,
``counters.ERROR_REASONS``) and each server's own (its ``stats.py``), and the
protocol error codes each service counts errors under. Rewritten by
``python -m netlab.docgen``; checked by ``tests/test_reference_pages.py``,
which also checks the declarations against the names the code counts.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from services.runtime import counters, errors
from services.runtime.counters import MEANING, Counters, Figure
from services.wire.errors import ErrorCode


@dataclass(frozen=True)
class ServerStats:
    """One server: where its figures are declared, and its code."""

    name: str
    stats: str  # the module declaring EXTRA and ERROR_REASONS
    package: str  # the code that counts them
    codes: str | None  # the module of its protocol error codes (an enum of them), if any


SERVERS = (
    ServerStats("chat", "services.chat.stats", "services/chat", "services.chat.events"),
    ServerStats("exec", "services.remote_exec.stats", "services/remote_exec",
                "services.remote_exec.events"),
    ServerStats("upload", "services.upload.stats", "services/upload", "services.upload.events"),
    ServerStats("gateway", "lab.gateway.stats", "lab/gateway", None),
)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _json_type(field: dataclasses.Field[object]) -> str:
    return "object (name → integer)" if field.default_factory is not dataclasses.MISSING else (
        "integer")


def fields_table() -> str:
    """The top-level keys of the JSON line: every field of ``Counters``."""
    rows = ["| key | JSON type | what it counts |", "| --- | --- | --- |"]
    for field in dataclasses.fields(Counters):
        rows.append(f"| `{field.name}` | {_json_type(field)} | "
                    f"{_cell(field.metadata.get(MEANING, ''))} |")
    return "\n".join(rows) + "\n"


def failures() -> Iterator[type[errors.RuntimeFailure]]:
    """Every transport failure class, the base first, then its subclasses depth first."""
    stack: list[type[errors.RuntimeFailure]] = [errors.RuntimeFailure]
    while stack:
        cls = stack.pop()
        yield cls
        stack.extend(reversed(cls.__subclasses__()))


def transport_table() -> str:
    """The reasons the runtime counts a connection's transport failure under."""
    rows = ["| reason | what happened |", "| --- | --- |"]
    for cls in failures():
        if cls.__module__ == errors.__name__:
            summary = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0]
            rows.append(f"| `{cls.reason}` | {_cell(summary.replace('``', '`'))} |")
    return "\n".join(rows) + "\n"


def figures_table(figures: tuple[Figure, ...], what: str, *, kinds: bool = True) -> list[str]:
    """A table of declared figures (none: a sentence saying so)."""
    if not figures:
        return [f"No {what} of its own.", ""]
    kind = " kind |" if kinds else ""
    rows = [f"| {what} |{kind} what it counts |", f"| --- |{' --- |' if kinds else ''} --- |"]
    for figure in figures:
        meaning = figure.meaning
        if figure.values:
            part = figure.name[figure.name.index("{"):figure.name.index("}") + 1]
            meaning += f". `{part}`: " + ", ".join(f"`{value}`" for value in figure.values)
        kind = f" {figure.kind} |" if kinds else ""
        rows.append(f"| `{figure.name}` |{kind} {_cell(meaning)} |")
    return [*rows, ""]


def common_section() -> str:
    """The ``extra`` keys and error reasons every server may count."""
    out = figures_table(counters.EXTRA, "`extra` key")
    out += figures_table(counters.ERROR_REASONS, "error reason", kinds=False)
    return "\n".join(out).rstrip() + "\n"


def error_codes(server: ServerStats) -> list[str]:
    """The protocol error codes a service counts errors under: the wire's and its own."""
    found = [code.value for code in ErrorCode]
    if server.codes is not None:
        module = importlib.import_module(server.codes)
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, enum.StrEnum)
                    and value.__module__ == module.__name__ and value.__name__.endswith("Code")):
                found += [code.value for code in value if code.value not in found]
    return found


def server_section(server: ServerStats) -> str:
    """One server's own ``extra`` keys and error reasons."""
    module: types.ModuleType = importlib.import_module(server.stats)
    out: list[str] = []
    routes: tuple[Figure, ...] = getattr(module, "ROUTES", ())
    if routes:
        out += ["Its line has one more top-level key, `routes`: an object with an entry per "
                "route name, each an object of these figures:", ""]
        out += figures_table(routes, "`routes.{route}` key")
    out += figures_table(module.EXTRA, "`extra` key")
    out += figures_table(module.ERROR_REASONS, "error reason", kinds=False)
    if server.codes is not None:
        codes = " ".join(f"`{code}`" for code in error_codes(server))
        out += [f"Its protocol error codes, which `errors_by_reason` may hold: {codes}.", ""]
    return "\n".join(out).rstrip() + "\n"


def _server(server: ServerStats) -> Callable[[], str]:
    return lambda: server_section(server)


SECTIONS: dict[str, Callable[[], str]] = {
    "stats-fields": fields_table,
    "stats-transport": transport_table,
    "stats-common": common_section,
    **{f"stats-{server.name}": _server(server) for server in SERVERS},
}
