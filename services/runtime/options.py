"""Command-line options declared once, on the config field they set.

A config field declared with :func:`setting` carries its help text and click
type; :func:`config_options` turns every such field of a config class into a
``--kebab-name`` option (also read from ``NETLAB_<NAME>``), and
:func:`build_config` turns what click parsed into the frozen config, a
validation error becoming a usage error. So adding a server option is two
edits: the field, and the code that uses it (model: uvicorn's ``main.py``,
where the command only forwards to ``Config``).

The option types every service shares live here too: :data:`BYTE_SIZE`
(``512K``, ``10M``, ``1G``), :data:`DURATION` (positive seconds),
:data:`PORT`; and :func:`option`, the plain click option with its
``NETLAB_*`` env var, for commands without a config (clients).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import click

ENV_PREFIX = "NETLAB_"
OPTION_KEY = "netlab.option"

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")


class ByteSize(click.ParamType):  # type: ignore[type-arg]
    """A byte count: ``1048576``, ``512K``, ``10M``, ``1G`` (binary units; ``KiB``/``KB`` too)."""

    name = "size"
    UNITS: ClassVar[dict[str, int]] = {
        "": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
    }

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(value))
        if match is None:
            self.fail(f"{value!r} is not a size like 1048576, 512K, 10M or 1G", param, ctx)
        return int(match[1]) * self.UNITS[match[2].lower()]

    def format(self, size: int) -> str:
        """``size`` in the largest unit that divides it: 1073741824 → ``1G``."""
        for suffix, unit in sorted(self.UNITS.items(), key=lambda item: -item[1]):
            if size and size % unit == 0:
                return f"{size // unit}{suffix.upper()}"
        return str(size)


BYTE_SIZE = ByteSize()
DURATION = click.FloatRange(min=0, min_open=True)
PORT = click.IntRange(0, 65535)


def env_name(name: str, prefix: str = ENV_PREFIX) -> str:
    """The env var of an option or field: ``idle-timeout`` → ``NETLAB_IDLE_TIMEOUT``."""
    return prefix + name.upper().replace("-", "_")


def option(name: str, *, env_prefix: str = ENV_PREFIX, **kwargs: Any) -> Callable[[F], F]:
    """``--name`` (or ``--name/--no-name``), also set by its ``NETLAB_*`` env var.

    Its default is shown in ``--help`` unless ``show_default`` says otherwise.
    """
    kwargs.setdefault("show_default", True)
    envvar = env_name(name.split("/")[0], env_prefix)
    return click.option(f"--{name}", envvar=envvar, **kwargs)


@dataclass(frozen=True)
class Setting:
    """What the command line needs to know about one config field."""

    help: str
    type: click.ParamType[Any, Any] | None = None


def setting(default: T, *, help: str, type: click.ParamType[Any, Any] | None = None) -> T:
    """A config field's default, declaring it as a command-line option too.

    Boolean fields become ``--name/--no-name`` flags; ``type`` is the click
    type of the value (by default, the type of ``default``).
    """
    field: T = dataclasses.field(default=default, metadata={OPTION_KEY: Setting(help, type)})
    return field


def config_options(
    config_class: type[Any], *, env_prefix: str = ENV_PREFIX, **defaults: Any
) -> Callable[[F], F]:
    """The click options of every :func:`setting` field of ``config_class``, in field order.

    ``defaults`` overrides a field's default on the command line only (the
    service's well-known port, where the config's default is 0 for tests).
    """
    decorators: list[Callable[[F], F]] = []
    for field in dataclasses.fields(config_class):
        declared = field.metadata.get(OPTION_KEY)
        if declared is None:
            continue
        decorators.append(option(
            _flag(field.name, default := defaults.get(field.name, field.default)),
            env_prefix=env_prefix, type=declared.type, default=_shown(declared, default),
            help=declared.help,
        ))
    unknown = set(defaults) - {field.name for field in dataclasses.fields(config_class)}
    if unknown:
        raise TypeError(f"{config_class.__name__} has no field(s) {sorted(unknown)}")

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def _flag(field_name: str, default: Any) -> str:
    """``max-line``, or ``console/--no-console`` for a boolean."""
    name = field_name.replace("_", "-")
    return f"{name}/--no-{name}" if isinstance(default, bool) else name


def _shown(declared: Setting, default: Any) -> Any:
    """The default as a user would type it (``1G``, ``on-request``): ``--help`` shows it."""
    if isinstance(declared.type, ByteSize) and isinstance(default, int):
        return declared.type.format(default)
    if isinstance(default, enum.Enum):
        return default.value
    return default


def build_config(config_class: Callable[..., C], options: Mapping[str, Any], **extra: Any) -> C:
    """The frozen config of the parsed ``options``; an invalid one is a usage error (exit 2)."""
    try:
        return config_class(**options, **extra)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


EXIT_HEADING = "Exit status:"
USAGE_ERROR = {"2": "a usage error: an unknown option, a value out of range (click)"}


def exit_statuses(statuses: Mapping[str, str]) -> str:
    """A command's ``epilog`` listing its exit statuses, each with what it means.

    ``--help`` shows it as written (click's ``\\b`` keeps the lines), and
    ``docs/reference/cli.md`` reads it back with :func:`read_exit_statuses`.
    """
    width = max(len(code) for code in statuses)
    lines = [f"  {code:<{width}}  {meaning}" for code, meaning in statuses.items()]
    return "\n".join(["\b", EXIT_HEADING, *lines])


def read_exit_statuses(epilog: str | None) -> dict[str, str]:
    """The statuses an :func:`exit_statuses` epilog lists (none for any other epilog)."""
    lines = (epilog or "").splitlines()
    if EXIT_HEADING not in lines:
        return {}
    found = {}
    for line in lines[lines.index(EXIT_HEADING) + 1:]:
        code, _, meaning = line.strip().partition("  ")
        found[code] = meaning.strip()
    return found
