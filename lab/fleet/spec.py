"""What a fleet runs: a :class:`FleetSpec` of chat, exec and upload clients, as JSON.

A spec is a frozen value, checked when it is built (:class:`InvalidSpec`
says which field is wrong and why) and carried as JSON from the host to the
client container (``lab fleet run --spec JSON``)::

    {"name": "observers", "seed": 7, "deadline": 60.0,
     "chat": {"clients": 4, "messages": 20, "interval": 0.05, "host": "gateway",
              "port": 8000, "linger": 1.5, "liveness": 5.0},
     "exec": {"clients": 2, "commands": 4, "host": "gateway", "port": 8001,
              "token": "netlab-lab", "output_bytes": [0, 1000, 300000],
              "stream_lines": 0, "command_timeout": 20.0},
     "upload": {"clients": 2, "files": 1, "sizes": [100000, 3000000],
                "host": "gateway", "port": 8002, "resume": true, "pace": 0}}

Each kind is optional; omitted fields take the defaults below; unknown fields
are refused (a typo would otherwise run a different workload silently).
The fleet's ``name`` becomes part of every process name
(``observers.chat-0``), which chat clients also take as their nickname, so
it is short and plain: 1-14 of ``A-Z a-z 0-9 _ -``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from lab.errors import InvalidSpec

Kind = Literal["chat", "exec", "upload"]
KINDS: tuple[Kind, ...] = ("chat", "exec", "upload")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,13}")
MAX_CLIENTS = 999  # three digits: ``NAME.chat-999`` still fits a 24-character nick
DEFAULT_EXEC_TOKEN = "netlab-lab"


def process_name(fleet: str, kind: Kind, index: int) -> str:
    """The process name of a fleet's client: ``observers.chat-0``."""
    return f"{fleet}.{kind}-{index}"


def _fail(where: str, why: str) -> InvalidSpec:
    return InvalidSpec(f"{where}: {why}")


def _check_count(where: str, value: int, *, low: int = 0, high: int = 1_000_000) -> None:
    if not low <= value <= high:
        raise _fail(where, f"{value} is not between {low} and {high}")


def _check_seconds(where: str, value: float, *, zero: bool = True) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise _fail(where, f"{value!r} is not a {'' if zero else 'positive '}number of seconds")


def _check_address(where: str, host: str, port: int) -> None:
    if not host or any(c.isspace() for c in host):
        raise _fail(f"{where}.host", f"{host!r} is not a host name")
    _check_count(f"{where}.port", port, low=1, high=65535)


@dataclass(frozen=True)
class ChatSpec:
    """``clients`` chat clients, each sending ``messages`` lines ``interval`` s apart.

    After its last message a client keeps listening until ``linger`` seconds
    pass without a new message (and the fleet's other chat clients are done
    sending). When nothing at all arrives for ``liveness`` seconds it asks the
    server something (``/who``); no answer within ``liveness`` more and the
    client declares the connection dead.
    """

    kind: ClassVar[Kind] = "chat"
    clients: int = 1
    messages: int = 10
    interval: float = 0.05
    host: str = "gateway"
    port: int = 8000
    linger: float = 1.5
    liveness: float = 5.0

    def __post_init__(self) -> None:
        _check_count("chat.clients", self.clients, high=MAX_CLIENTS)
        _check_count("chat.messages", self.messages)
        _check_seconds("chat.interval", self.interval)
        _check_address("chat", self.host, self.port)
        _check_seconds("chat.linger", self.linger)
        _check_seconds("chat.liveness", self.liveness, zero=False)


@dataclass(frozen=True)
class ExecSpec:
    """``clients`` exec clients, each running ``commands`` commands of known output.

    Command ``i`` prints a seeded choice of ``output_bytes`` bytes and exits
    with a seeded status; with ``stream_lines`` > 0 each client first runs one
    command printing that many lines, one every 50 ms. Each command gets
    ``command_timeout`` seconds (asked of the server too). Every command
    touches ``ran_dir/netlab-ran.<marker>.<pid>`` first (the at-most-once record).
    """

    kind: ClassVar[Kind] = "exec"
    clients: int = 1
    commands: int = 4
    host: str = "gateway"
    port: int = 8001
    token: str = DEFAULT_EXEC_TOKEN
    output_bytes: tuple[int, ...] = (0, 1000, 300000)
    stream_lines: int = 0
    command_timeout: float = 20.0
    ran_dir: str = "/tmp"

    def __post_init__(self) -> None:
        _check_count("exec.clients", self.clients, high=MAX_CLIENTS)
        _check_count("exec.commands", self.commands)
        _check_address("exec", self.host, self.port)
        if not self.token:
            raise _fail("exec.token", "empty")
        if not self.output_bytes:
            raise _fail("exec.output_bytes", "needs at least one size")
        for size in self.output_bytes:
            _check_count("exec.output_bytes", size, high=1 << 30)
        _check_count("exec.stream_lines", self.stream_lines, high=100_000)
        _check_seconds("exec.command_timeout", self.command_timeout, zero=False)
        if not self.ran_dir.startswith("/") or any(c in self.ran_dir for c in "'\"\\$`; \n"):
            raise _fail("exec.ran_dir", f"{self.ran_dir!r} is not a plain absolute path")


@dataclass(frozen=True)
class UploadSpec:
    """``clients`` upload clients, each putting ``files`` files of seeded content.

    File ``j`` of client ``i`` has size ``sizes[(i * files + j) % len(sizes)]``.
    ``pace`` caps each client's sending rate in bytes per second (0: no cap);
    mind the server's ``--min-rate``. With ``resume``, a broken upload is
    retried on a new connection from the server's offset.
    """

    kind: ClassVar[Kind] = "upload"
    clients: int = 1
    files: int = 1
    sizes: tuple[int, ...] = (100000,)
    host: str = "gateway"
    port: int = 8002
    resume: bool = True
    pace: int = 0

    def __post_init__(self) -> None:
        _check_count("upload.clients", self.clients, high=MAX_CLIENTS)
        _check_count("upload.files", self.files, high=10_000)
        if not self.sizes:
            raise _fail("upload.sizes", "needs at least one size")
        for size in self.sizes:
            _check_count("upload.sizes", size, high=1 << 30)
        _check_address("upload", self.host, self.port)
        _check_count("upload.pace", self.pace, high=1 << 40)


KindSpec = ChatSpec | ExecSpec | UploadSpec
_KIND_CLASSES: dict[str, type[KindSpec]] = {"chat": ChatSpec, "exec": ExecSpec,
                                             "upload": UploadSpec}


@dataclass(frozen=True)
class FleetSpec:
    """A named fleet: its seed, its deadline (seconds for the whole run), its clients."""

    name: str
    seed: int = 0
    deadline: float = 60.0
    chat: ChatSpec | None = None
    exec: ExecSpec | None = None
    upload: UploadSpec | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise _fail("name", f"{self.name!r} is not 1-14 of A-Z a-z 0-9 _ - "
                                "(starting with a letter or digit)")
        _check_seconds("deadline", self.deadline, zero=False)

    def specs(self) -> tuple[KindSpec, ...]:
        """The spec of each kind this fleet runs, in the order chat, exec, upload."""
        return tuple(spec for spec in (self.chat, self.exec, self.upload) if spec is not None)

    def kinds(self) -> tuple[Kind, ...]:
        """The names of the kinds this fleet runs: ``("chat", "upload")``."""
        return tuple(spec.kind for spec in self.specs())

    def processes(self) -> list[str]:
        """Every client's process name."""
        return [process_name(self.name, spec.kind, index)
                for spec in self.specs() for index in range(spec.clients)]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "seed": self.seed, "deadline": self.deadline}
        for spec in self.specs():
            data[spec.kind] = {f.name: _plain(getattr(spec, f.name))
                               for f in dataclasses.fields(spec)}
        return data

    @classmethod
    def from_json(cls, data: Any) -> FleetSpec:
        """The spec ``data`` describes; :class:`InvalidSpec` if it does not."""
        if not isinstance(data, dict):
            raise _fail("spec", "not a JSON object")
        unknown = set(data) - {"name", "seed", "deadline", *KINDS}
        if unknown:
            raise _fail("spec", f"unknown fields {sorted(unknown)}")
        if "name" not in data:
            raise _fail("name", "missing")
        kinds = {kind: _kind_from_json(kind, data[kind]) for kind in KINDS
                 if data.get(kind) is not None}
        return cls(name=data["name"], seed=_typed("seed", data.get("seed", 0), int),
                   deadline=_typed("deadline", data.get("deadline", 60.0), float),
                   **kinds)  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _typed(where: str, value: Any, kind: type) -> Any:
    """``value`` as ``kind`` (an int is a fine float; a bool is no number)."""
    if isinstance(value, bool) and kind is not bool:
        raise _fail(where, f"{value!r} is not a number")
    if kind is float and isinstance(value, int | float):
        return float(value)
    if kind is tuple:
        if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise _fail(where, f"{value!r} is not a list of integers")
        return tuple(value)
    if not isinstance(value, kind):
        raise _fail(where, f"{value!r} is not of type {kind.__name__}")
    return value


def _kind_from_json(kind: str, data: Any) -> KindSpec:
    if not isinstance(data, dict):
        raise _fail(kind, "not a JSON object")
    spec_class = _KIND_CLASSES[kind]
    known = {f.name: f for f in dataclasses.fields(spec_class)}
    unknown = set(data) - set(known)
    if unknown:
        raise _fail(kind, f"unknown fields {sorted(unknown)}")
    kinds = {"int": int, "float": float, "str": str, "bool": bool, "tuple[int, ...]": tuple}
    values = {name: _typed(f"{kind}.{name}", value, kinds[str(known[name].type)])
              for name, value in data.items()}
    return spec_class(**values)
