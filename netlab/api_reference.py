"""``docs/reference/python-api.md``'s generated parts: every client library, from its code.

For each service the page shows what its client module exports (``__all__``,
else every public class and function it defines): how to connect (the
``open_*`` context manager), the client's methods, the results, the
exceptions, and the events and error codes of the service's ``events.py``,
with the signatures and docstrings as they are in the code. Rewritten by
``python -m netlab.docgen``; checked by ``tests/test_reference_pages.py``.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClientApi:
    """One service's client library: where it lives and where its events are."""

    service: str
    client: str  # module
    events: str  # module


CLIENTS = (
    ClientApi("chat", "services.chat.client", "services.chat.events"),
    ClientApi("exec", "services.remote_exec.client", "services.remote_exec.events"),
    ClientApi("upload", "services.upload.client", "services.upload.events"),
)
COMMON = ("services.runtime.retry", ("Backoff", "NO_RETRY", "UNTIL_UP", "ConnectFailed"))

_ROLE = re.compile(r":(?:class|func|meth|data|attr|exc):`~?(?:[\w.]+\.)?(\w+)`")
_MODULE = re.compile(r":mod:`~?([\w.]+)`")


def md(docstring: str | None) -> str:
    """A docstring as Markdown: double backquotes single, Sphinx roles plain, ``::`` a colon."""
    text = inspect.cleandoc(docstring or "")
    text = _MODULE.sub(r"`\1`", _ROLE.sub(r"`\1`", text)).replace("``", "`")
    return re.sub(r"::$", ":", text, flags=re.MULTILINE)


def _is_cm(func: Any) -> bool:
    wrapped = getattr(func, "__wrapped__", None)
    return wrapped is not None and inspect.isasyncgenfunction(wrapped)


def _default(value: Any, namespace: dict[str, Any]) -> str:
    if not isinstance(value, int | float | str | bytes | bool | type(None)):
        for name, candidate in namespace.items():
            if candidate is value and name.isupper():
                return name
    return repr(value)


def signature(func: Any, name: str | None = None) -> str:
    """``name(params) -> returns`` as written in the code (annotations unevaluated)."""
    target = getattr(func, "__func__", func)
    sig = inspect.signature(target)
    namespace = getattr(getattr(target, "__wrapped__", target), "__globals__", {})
    parts: list[str] = []
    keyword_only = False
    for param in sig.parameters.values():
        if param.name in ("self", "cls"):
            continue
        if param.kind is param.KEYWORD_ONLY and not keyword_only:
            parts.append("*")
            keyword_only = True
        text = param.name
        if param.kind is param.VAR_POSITIONAL:
            text, keyword_only = f"*{param.name}", True
        elif param.kind is param.VAR_KEYWORD:
            text = f"**{param.name}"
        if param.annotation is not param.empty:
            text += f": {param.annotation}"
        if param.default is not param.empty:
            text += f" = {_default(param.default, namespace)}"
        parts.append(text)
    returns = "" if sig.return_annotation is sig.empty else f" -> {sig.return_annotation}"
    return f"{name or target.__name__}({', '.join(parts)}){returns}"


def _how(func: Any, doc: str | None, what: str = "function") -> str:
    """What calling ``func`` gives (a context manager, a coroutine), then its docstring."""
    target = getattr(func, "__func__", func)
    if _is_cm(target):
        how = "async context manager"
    elif inspect.iscoroutinefunction(target):
        how = "coroutine (`await`)"
    else:
        how = what
    return f"*{how}*. {md(doc)}".rstrip()


def attributes(cls: type) -> list[str]:
    """The public attributes ``cls.__init__`` sets (``self.NAME = ...``), in order."""
    init = cls.__dict__.get("__init__")
    if init is None:
        return []
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        for target in targets:
            for leaf in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if (isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name)
                        and leaf.value.id == "self" and not leaf.attr.startswith("_")
                        and leaf.attr not in names):
                    names.append(leaf.attr)
    return names


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property | classmethod | staticmethod) or inspect.isfunction(
                member):
            yield name, member


def methods(cls: type) -> list[str]:
    """Each public method and property of ``cls``: a heading with its signature, its docstring."""
    out: list[str] = []
    for name, member in _members(cls):
        if isinstance(member, property):
            returns = inspect.signature(member.fget).return_annotation  # type: ignore[arg-type]
            out += [f"#### `{cls.__name__}.{name}` (property: `{returns}`)", "",
                    md(member.__doc__), ""]
            continue
        func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
        out += [f"#### `{cls.__name__}.{signature(func, name)}`", "",
                _how(func, func.__doc__, "method"), ""]
    return out


def _code_cell(text: str) -> str:
    """``text`` as code in a table cell (a ``|`` would end the cell)."""
    return "`" + text.replace("|", "\\|") + "`"


def _fields(cls: type) -> list[str]:
    rows = ["| field | type | default |", "| --- | --- | --- |"]
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f"`{f.default!r}`"
        elif f.default_factory is not dataclasses.MISSING:
            default = f"`{getattr(f.default_factory, '__name__', 'factory')}()`"
        else:
            default = "required"
        rows.append(f"| `{f.name}` | {_code_cell(str(f.type))} | {default} |")
    return rows if len(rows) > 2 else []


def dataclass_doc(cls: type, level: str = "####") -> list[str]:
    """A dataclass: its name, docstring, its fields' table and its public methods."""
    out = [f"{level} `{cls.__name__}`", "", md(cls.__doc__), ""]
    table = _fields(cls)
    if table:
        out += [*table, ""]
    return out + methods(cls)


def exception_doc(cls: type[BaseException]) -> list[str]:
    bases = ", ".join(base.__name__ for base in cls.__bases__)
    out = [f"#### `{cls.__name__}({bases})`", "", md(cls.__doc__), ""]
    attrs = attributes(cls)
    if attrs:
        out += ["Attributes: " + ", ".join(f"`{name}`" for name in attrs) + ".", ""]
    return out


def _alias_source(module: types.ModuleType, name: str) -> str | None:
    """How ``name`` is written where it is assigned (following ``from X import name``)."""
    for node in ast.parse(inspect.getsource(module)).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name):
            return ast.unparse(node.value)
        if (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                and any(alias.name == name and alias.asname is None for alias in node.names)):
            return _alias_source(importlib.import_module(node.module), name)
    return None


def _is_alias(value: Any) -> bool:
    if isinstance(value, types.UnionType | types.GenericAlias):
        return True
    return type(value).__module__ in ("typing", "collections.abc") and hasattr(value, "__origin__")


def type_aliases(module: types.ModuleType) -> list[str]:
    """The public type aliases ``module`` assigns (``Source = Path | bytes | Reader``)."""
    names = []
    for node in ast.parse(inspect.getsource(module)).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and not node.targets[0].id.startswith("_")
                and _is_alias(getattr(module, node.targets[0].id, None))):
            names.append(node.targets[0].id)
    return names


def exported(module: types.ModuleType) -> list[str]:
    """The module's public names: ``__all__``, else the classes and functions it defines."""
    names: list[str] | None = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [name for name, value in vars(module).items() if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", None) == module.__name__]


def client_section(api: ClientApi) -> str:
    """One service's client library: connecting, the client, results, exceptions, helpers."""
    module = importlib.import_module(api.client)
    entries = {name: getattr(module, name) for name in exported(module)}
    out = [md(module.__doc__), ""]
    functions = {n: v for n, v in entries.items() if callable(v) and not inspect.isclass(v)}
    classes = {n: v for n, v in entries.items() if inspect.isclass(v)}
    aliases = {n: v for n, v in entries.items() if n not in functions and n not in classes}
    aliases |= {n: getattr(module, n) for n in type_aliases(module)}
    if functions:
        out += ["### Functions", ""]
        for name, func in sorted(functions.items(), key=lambda item: not _is_cm(item[1])):
            out += [f"#### `{signature(func, name)}`", "", _how(func, func.__doc__), ""]
    errors = {n: c for n, c in classes.items() if issubclass(c, BaseException)}
    others = {n: c for n, c in classes.items() if n not in errors}
    for name, cls in others.items():
        if dataclasses.is_dataclass(cls):
            out += dataclass_doc(cls, "###")
            continue
        out += [f"### `{name}`", "", md(cls.__doc__), ""]
        attrs = attributes(cls)
        if attrs:
            out += ["Attributes: " + ", ".join(f"`{a}`" for a in attrs) + ".", ""]
        out += methods(cls)
    if aliases:
        out += ["### Types", ""]
        for name, value in aliases.items():
            written = _alias_source(module, name) or repr(value)
            out += [f"- `{name} = {written}`"]
        out.append("")
    if errors:
        out += ["### Exceptions", ""]
        for cls in errors.values():
            out += exception_doc(cls)
    return "\n".join(out).rstrip() + "\n"


def _union(module: types.ModuleType, name: str) -> tuple[type, ...]:
    value = getattr(module, name, None)
    return typing.get_args(value) if value is not None else ()


def events_section(api: ClientApi) -> str:
    """The service's messages (server → client, client → server) and its codes."""
    module = importlib.import_module(api.events)
    server, client = _union(module, "ServerEvent"), _union(module, "ClientEvent")
    out = [md(module.__doc__), ""]
    defined = [value for value in vars(module).values() if inspect.isclass(value)
               and value.__module__ == module.__name__]
    for value in defined:
        if issubclass(value, enum.Enum):
            out += [f"### `{value.__name__}`", "", md(value.__doc__), "",
                    " ".join(f"`{member.value}`" for member in value), ""]
    groups = (
        ("Server → client", [c for c in server if c not in client]),
        ("Client → server", [c for c in client if c not in server]),
        ("Both directions", [c for c in server if c in client]),
        ("Other types", [c for c in defined if dataclasses.is_dataclass(c)
                         and c not in server and c not in client]),
    )
    for title, members in groups:
        if members:
            out += [f"### {title}", ""]
            for cls in members:
                out += dataclass_doc(cls)
    return "\n".join(out).rstrip() + "\n"


def common_section() -> str:
    """What every client shares: the connection backoff."""
    module_name, names = COMMON
    module = importlib.import_module(module_name)
    out = [f"From `{module_name}`.", ""]
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) and issubclass(value, BaseException):
            out += exception_doc(value)
        elif inspect.isclass(value):
            out += dataclass_doc(value, "###")
        else:
            out += [f"- `{name} = {_alias_source(module, name) or repr(value)}`"]
    out.append("")
    return "\n".join(out).rstrip() + "\n"


def _section(make: Callable[[ClientApi], str], api: ClientApi) -> Callable[[], str]:
    return lambda: make(api)


SECTIONS: dict[str, Callable[[], str]] = {"api-common": common_section}
for _api in CLIENTS:
    SECTIONS[f"api-{_api.service}"] = _section(client_section, _api)
    SECTIONS[f"events-{_api.service}"] = _section(events_section, _api)
