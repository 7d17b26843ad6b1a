"""``docs/reference/cli.md``'s generated parts: every ``netlab`` and ``lab`` command, from click.

The click command trees are walked as ``--help`` walks them: for each
command its usage line, its help, a table of its arguments and options (the
option, its environment variable, its default, its help) and the exit
statuses its epilog declares (:func:`services.runtime.options.exit_statuses`).
Rewritten by ``python -m netlab.docgen``; checked by
``tests/test_reference_pages.py``.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from lab.cli import main as lab_main
from netlab.cli import main as netlab_main
from services.runtime.options import EXIT_HEADING, read_exit_statuses

ROOTS: dict[str, click.Command] = {"netlab": netlab_main, "lab": lab_main}


def commands(root: click.Command, name: str) -> Iterator[click.Context]:
    """The context of ``root`` and of every command below it, depth first, by name."""
    stack = [click.Context(root, info_name=name)]
    while stack:
        ctx = stack.pop()
        yield ctx
        command = ctx.command
        if isinstance(command, click.Group):
            below = []
            for sub in command.list_commands(ctx):
                found = command.get_command(ctx, sub)
                if found is not None:
                    below.append(click.Context(found, parent=ctx, info_name=sub))
            stack.extend(reversed(below))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else "—"


def default(param: click.Parameter, ctx: click.Context) -> str:
    """The default as ``--help`` would show it; ``—`` when there is none."""
    shown = getattr(param, "show_default", None)
    if isinstance(shown, str):
        return _code(shown)
    if isinstance(param, click.Option) and param.is_flag and not param.secondary_opts:
        return "off" if not param.default or param.default is _unset() else "on"
    value = param.default
    if value is None or value is _unset() or callable(value):
        return "—"
    if isinstance(value, bool) and isinstance(param, click.Option) and param.secondary_opts:
        return _code(param.opts[0] if value else param.secondary_opts[0])
    if isinstance(value, tuple | list):
        return ", ".join(_code(str(item)) for item in value) or "—"
    if isinstance(value, enum.Enum):
        return _code(str(value.value))
    if isinstance(value, Path):
        return _code(str(value))
    return _code(str(value))


def _unset() -> object:
    return getattr(click.core, "UNSET", object())


def _envvar(param: click.Parameter) -> str:
    names = param.envvar
    if not names:
        return "—"
    return ", ".join(f"`{name}`" for name in ([names] if isinstance(names, str) else names))


def _option(param: click.Parameter, ctx: click.Context) -> str:
    flags = ", ".join([*param.opts, *param.secondary_opts])
    is_flag = isinstance(param, click.Option) and param.is_flag
    metavar = "" if is_flag else param.make_metavar(ctx)
    return _code(f"{flags} {metavar}".strip())


def parameters(ctx: click.Context) -> list[str]:
    """The command's arguments and options as a table (``--help`` itself left out)."""
    rows = ["| argument or option | environment variable | default | meaning |",
            "| --- | --- | --- | --- |"]
    helper = ctx.command.get_help_option(ctx)
    for param in ctx.command.get_params(ctx):
        if param is helper:
            continue
        if isinstance(param, click.Argument):
            needed = "required" if param.required else "optional"
            many = ", any number" if param.nargs == -1 else ""
            rows.append(f"| {_code(param.make_metavar(ctx))} | — | — | argument ({needed}{many}) |")
            continue
        meaning = _cell(getattr(param, "help", None) or "")
        if isinstance(param, click.Option):
            if param.multiple and "repeatable" not in meaning:
                meaning += " (repeatable)"
            extra = param.get_help_extra(ctx)
            if extra.get("required"):
                meaning += " Required."
            if extra.get("range"):
                meaning += f" Range: `{extra['range']}`."
        rows.append(f"| {_option(param, ctx)} | {_envvar(param)} | {default(param, ctx)} "
                    f"| {meaning} |")
    return rows if len(rows) > 2 else []


def _help(command: click.Command) -> str:
    text = inspect.cleandoc(command.help or "").replace("\b\n", "")
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def command_doc(ctx: click.Context) -> list[str]:
    """One command: heading, usage, help, parameters, sub-commands, exit statuses."""
    command = ctx.command
    depth = min(ctx.command_path.count(" ") + 2, 4)
    hidden = " (internal)" if command.hidden else ""
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    out = [f"{'#' * depth} `{ctx.command_path}`{hidden}", "", f"Usage: `{usage}`", ""]
    help_text = _help(command)
    if help_text:
        out += [help_text, ""]
    table = parameters(ctx)
    if table:
        out += [*table, ""]
    if isinstance(command, click.Group):
        subs = [(name, command.get_command(ctx, name)) for name in command.list_commands(ctx)]
        out += ["| command | what |", "| --- | --- |"]
        out += [f"| `{ctx.command_path} {name}` | {_cell(sub.get_short_help_str(200))} |"
                for name, sub in subs if sub is not None]
        out.append("")
    statuses = read_exit_statuses(command.epilog)
    if statuses:
        out += [f"{EXIT_HEADING}", "", "| status | when |", "| --- | --- |"]
        out += [f"| {_code(code)} | {_cell(meaning)} |" for code, meaning in statuses.items()]
        out.append("")
    return out


def tree(name: str) -> str:
    """Every command of the ``name`` tree (``netlab`` or ``lab``)."""
    out: list[str] = []
    for ctx in commands(ROOTS[name], name):
        out += command_doc(ctx)
    return "\n".join(out).rstrip() + "\n"


def env_vars() -> list[str]:
    """Every environment variable the click options read, in order of first appearance."""
    seen: list[str] = []
    for name, root in ROOTS.items():
        for ctx in commands(root, name):
            for param in ctx.command.get_params(ctx):
                names = param.envvar or []
                for var in [names] if isinstance(names, str) else names:
                    if var not in seen:
                        seen.append(var)
    return seen


def _tree(name: str) -> Callable[[], str]:
    return lambda: tree(name)


SECTIONS: dict[str, Callable[[], str]] = {f"cli-{name}": _tree(name) for name in ROOTS}

