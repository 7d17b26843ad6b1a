"""The generated parts of ``docs/reference/protocol/``: made from the protocols' own code.

Every table a reader could check against the code is made here from it, not
written by hand: the kind bytes and frame grammar of exec and upload (their
``Kind`` enums, who sends each kind as their ``TRANSITIONS`` say, the payload
limits of their frame buffers), the state tables (``TRANSITIONS``), the error
tables (each service's ``ERRORS``), the limits and timeouts (each config's
``setting(...)`` fields, and the constants the code holds), and the field
tables of every JSON message.

The field tables are the one part whose truth the code does not state as a
table: a codec checks its fields in code. So they are declared here
(:data:`EXEC_FIELDS`, :data:`UPLOAD_FIELDS`), each field with values a
receiver accepts and values it refuses, and ``tests/test_protocol_reference.py``
feeds those through the real codec: a required field left out or ``null``,
a value of another JSON type, a value out of range must be refused with
``bad-message``; an optional field left out must decode as its default.

Each page's parts are one mapping (:data:`OVERVIEW`, :data:`CHAT`,
:data:`EXEC`, :data:`UPLOAD`, :data:`CLASSIC`) in ``netlab.docgen``'s
``PAGES``; ``python -m netlab.docgen`` rewrites the pages.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from services.chat import classic as chat_classic
from services.chat import codec as chat_codec
from services.chat import config as chat_config
from services.chat import console as chat_console
from services.chat import detect as chat_detect
from services.chat import events as chat_events
from services.chat import grammar as chat_grammar
from services.chat import protocol as chat_protocol
from services.remote_exec import codec as exec_codec
from services.remote_exec import config as exec_config
from services.remote_exec import events as exec_events
from services.remote_exec import protocol as exec_protocol
from services.remote_exec import server as exec_server
from services.runtime import config as runtime_config
from services.runtime.connection import MAX_BATCH
from services.runtime.options import OPTION_KEY, ByteSize, Setting, env_name
from services.upload import classic as upload_classic
from services.upload import codec as upload_codec
from services.upload import config as upload_config
from services.upload import events as upload_events
from services.upload import names as upload_names
from services.upload import protocol as upload_protocol
from services.upload import session as upload_session
from services.wire import errors as wire_errors
from services.wire import frames as wire_frames
from services.wire import preface as wire_preface
from services.wire.errors import ErrorSpec
from services.wire.protocol import Role

Sections = Mapping[str, Callable[[], str]]
MAX_INT = (1 << 63) - 1


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _bytes(n: int) -> str:
    """``65536`` → ``65 536 (64 KiB)``: the exact count, and its unit when it has one."""
    exact = f"{n:,}".replace(",", " ")
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{exact} ({n // size} {unit})"
    return exact


# -- limits and timeouts: the config's settings ---------------------------------


def _settings(cls: type) -> dict[str, tuple[Setting, Any]]:
    found = {}
    for f in dataclasses.fields(cls):
        declared = f.metadata.get(OPTION_KEY)
        if declared is not None:
            found[f.name] = (declared, f.default)
    return found


def _default(declared: Setting, value: Any) -> str:
    if isinstance(declared.type, ByteSize) and isinstance(value, int):
        return _bytes(value)
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    return f"`{value}`"


SERVICE_PORTS = {
    "chat": chat_config.DEFAULT_PORT,
    "exec": exec_config.DEFAULT_PORT,
    "upload": upload_config.DEFAULT_PORT,
}


def common_settings_table() -> str:
    """The settings every server has (``ServerConfig``), with their defaults."""
    rows = []
    for name, (declared, value) in _settings(runtime_config.ServerConfig).items():
        default = _default(declared, value)
        if name == "port":
            default = ", ".join(f"{port} ({service})" for service, port in SERVICE_PORTS.items())
        rows.append((f"`--{name.replace('_', '-')}`", f"`{env_name(name)}`", default,
                     declared.help))
    return _table(["option", "environment", "default", "what it bounds"], rows)


def service_settings_table(cls: type) -> str:
    """A service's own settings: those its config adds to ``ServerConfig``."""
    common = _settings(runtime_config.ServerConfig)
    rows = []
    for name, (declared, value) in _settings(cls).items():
        if name in common:
            continue
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            flag = f"{flag}/--no-{flag}"
        rows.append((f"`--{flag}`", f"`{env_name(name)}`", _default(declared, value),
                     declared.help))
    return _table(["option", "environment", "default", "what it bounds"], rows)


# -- constants the code holds ---------------------------------------------------


@dataclass(frozen=True)
class Constant:
    """A fixed limit of a protocol: its value as the code holds it, and what it bounds."""

    what: str
    value: str
    source: str


def _constants_table(constants: Iterable[Constant]) -> str:
    return _table(["limit", "value", "in the code"],
                  ((c.what, c.value, f"`{c.source}`") for c in constants))


def overview_constants() -> str:
    return _constants_table([
        Constant("preface: its bytes", f"{len(wire_preface.PREFACE_PREFIX) + 1}"
                 " + the service name's length", "services.wire.preface.encode_preface"),
        Constant("a control message's JSON payload (exec, upload)",
                 f"{_bytes(wire_frames.MAX_JSON_PAYLOAD)} bytes",
                 "services.wire.frames.MAX_JSON_PAYLOAD"),
        Constant("a frame header", f"{wire_frames.HEADER_SIZE} bytes",
                 "services.wire.frames.HEADER_SIZE"),
    ])


def chat_constants() -> str:
    return _constants_table([
        Constant("a client line, without its `\\n` (default of `--max-line`)",
                 f"{chat_protocol.DEFAULT_MAX_LINE} bytes",
                 "services.chat.protocol.DEFAULT_MAX_LINE"),
        Constant("a line netlab's chat client accepts from the server",
                 f"{_bytes(chat_protocol.CLIENT_MAX_LINE)} bytes",
                 "services.chat.protocol.CLIENT_MAX_LINE"),
        Constant("an operator console line", f"{chat_console.MAX_CONSOLE_LINE} bytes",
                 "services.chat.console.MAX_CONSOLE_LINE"),
        Constant("a nickname or room name", f"1–{chat_grammar.MAX_NAME} characters",
                 "services.chat.grammar.MAX_NAME"),
        Constant("names in one `= rooms` or `= who` line", f"{chat_codec.LIST_LIMIT}",
                 "services.chat.codec.LIST_LIMIT"),
        Constant("the window in which a `\\n` makes a client line mode "
                 "(default of `--classic-window`)", f"{chat_detect.DEFAULT_WINDOW:g} s",
                 "services.chat.detect.DEFAULT_WINDOW"),
        Constant("bytes one classic read (one classic message) holds",
                 f"{chat_classic.CLASSIC_RECV}", "services.chat.classic.CLASSIC_RECV"),
        Constant("bytes the server sends a client in one write", f"{_bytes(MAX_BATCH)}",
                 "services.runtime.connection.MAX_BATCH"),
    ])


def exec_constants() -> str:
    return _constants_table([
        Constant("a control message's JSON payload", f"{_bytes(wire_frames.MAX_JSON_PAYLOAD)}"
                 " bytes", "services.wire.frames.MAX_JSON_PAYLOAD"),
        Constant("a STDIN, STDOUT or STDERR payload either end accepts",
                 f"{_bytes(exec_protocol.DATA_FRAME_LIMIT)} bytes",
                 "services.remote_exec.protocol.DATA_FRAME_LIMIT"),
        Constant("a STDOUT or STDERR payload the server sends",
                 f"at most {_bytes(exec_config.ExecConfig.read_size)} bytes",
                 "services.remote_exec.config.ExecConfig.read_size"),
        Constant("the server's token", f"1–{exec_config.MAX_TOKEN} characters",
                 "services.remote_exec.config.MAX_TOKEN"),
        Constant("`code`, `message`, `signal` strings", f"{exec_codec.MAX_TEXT} characters",
                 "services.remote_exec.codec.MAX_TEXT"),
        Constant("integer fields", f"0 to 2⁶³−1 ({exec_codec.MAX_COUNT})",
                 "services.remote_exec.codec.MAX_COUNT"),
        Constant("past `--max-clients`: how long the server waits for a first byte to answer "
                 "in the client's mode", f"{exec_server.REFUSE_SNIFF_TIMEOUT:g} s",
                 "services.remote_exec.server.REFUSE_SNIFF_TIMEOUT"),
        Constant("the window in which wrong tokens are counted (`--auth-max-failures`)",
                 f"{exec_config.ExecConfig.auth_window:g} s",
                 "services.remote_exec.config.ExecConfig.auth_window"),
    ])


def upload_constants() -> str:
    return _constants_table([
        Constant("a control message's JSON payload", f"{_bytes(wire_frames.MAX_JSON_PAYLOAD)}"
                 " bytes", "services.wire.frames.MAX_JSON_PAYLOAD"),
        Constant("a DATA payload either end accepts",
                 f"{_bytes(upload_protocol.DATA_FRAME_LIMIT)} bytes",
                 "services.upload.protocol.DATA_FRAME_LIMIT"),
        Constant("a DATA payload the server sends (downloads)",
                 f"{_bytes(upload_config.UploadConfig.download_chunk)} bytes",
                 "services.upload.config.UploadConfig.download_chunk"),
        Constant("a LISTING's files, in JSON bytes, before a new LISTING starts",
                 f"{_bytes(upload_session.LISTING_BATCH)}",
                 "services.upload.session.LISTING_BATCH"),
        Constant("a stored name", f"1–{upload_names.MAX_NAME_BYTES} bytes of UTF-8",
                 "services.upload.names.MAX_NAME_BYTES"),
        Constant("`size`, `offset`", f"0 to 2⁶³−1 ({upload_codec.MAX_SIZE})",
                 "services.upload.codec.MAX_SIZE"),
        Constant("`message` and names the server sends", f"{upload_codec.MAX_TEXT} characters",
                 "services.upload.codec.MAX_TEXT"),
    ])


def classic_constants() -> str:
    return _constants_table([
        Constant("chat: one read, one message", f"{chat_classic.CLASSIC_RECV} bytes",
                 "services.chat.classic.CLASSIC_RECV"),
        Constant("upload: the header `NAME|SIZE` must show its `|` within",
                 f"{upload_classic.MAX_HEADER} bytes", "services.upload.classic.MAX_HEADER"),
        Constant("upload: digits of SIZE", f"at most {upload_classic.MAX_DIGITS}",
                 "services.upload.classic.MAX_DIGITS"),
        Constant("upload: the replies", f"`{upload_classic.TRUE.decode()}`, "
                 f"`{upload_classic.FALSE.decode()}`", "services.upload.classic.TRUE, FALSE"),
    ])


# -- kinds and frames --------------------------------------------------------------


def _senders(transitions: Mapping[tuple[Any, Role, type], Any]) -> dict[type, set[Role]]:
    found: dict[type, set[Role]] = {}
    for _, role, event_type in transitions:
        found.setdefault(event_type, set()).add(role)
    return found


def _who(roles: set[Role]) -> str:
    return "both" if len(roles) == 2 else next(iter(roles)).value


def _exec_payload(kind_name: str) -> str:
    kind = exec_codec.Kind[kind_name]
    if kind in exec_codec.DATA_KINDS:
        return "bytes"
    if kind in exec_codec.EMPTY_KINDS:
        return "empty"
    return "JSON object"


def _upload_payload(kind_name: str) -> str:
    return {"DATA": "bytes", "END": "empty, or JSON object"}.get(kind_name, "JSON object")


def _exec_limit(kind_name: str) -> int:
    return exec_protocol.payload_limits(exec_protocol.DATA_FRAME_LIMIT)[exec_codec.Kind[kind_name]]


def _upload_limit(kind_name: str) -> int:
    if kind_name == "DATA":
        return upload_protocol.DATA_FRAME_LIMIT
    return wire_frames.MAX_JSON_PAYLOAD


@dataclass(frozen=True)
class Framed:
    """What the tables of a framed service (exec, upload) are made from."""

    kinds: Iterable[enum.IntEnum]
    kind_of: Mapping[type, enum.IntEnum]
    protocol: Any  # the module: TRANSITIONS, State, ANSWERING_STATES
    payload: Callable[[str], str]  # kind name → "bytes", "empty", "JSON object"...
    limit: Callable[[str], int]  # kind name → largest payload


FRAMED = {
    "exec": Framed(exec_codec.Kind, exec_codec.KIND_OF, exec_protocol, _exec_payload,
                   _exec_limit),
    "upload": Framed(upload_codec.Kind, upload_codec.KIND_OF, upload_protocol, _upload_payload,
                     _upload_limit),
}


def _kinds(service: str) -> list[tuple[int, str, str, str, int]]:
    """(kind byte, name, sender, payload, limit) of every kind of ``service``."""
    framed = FRAMED[service]
    senders = _senders(framed.protocol.TRANSITIONS)
    sender_of = {framed.kind_of[t]: _who(roles) for t, roles in senders.items()}
    return [(int(k), k.name, sender_of[k], framed.payload(k.name), framed.limit(k.name))
            for k in framed.kinds]


def kinds_table(service: str) -> str:
    rows = [(f"`0x{kind:02x}`", name, sender, payload,
             "0" if payload == "empty" else _bytes(limit))
            for kind, name, sender, payload, limit in _kinds(service)]
    return _table(["kind", "message", "sent by", "payload", "largest payload (bytes)"], rows)


def _rule_name(name: str) -> str:
    return name.lower().replace("_", "-")


def grammar(service: str) -> str:
    """The ABNF of every frame of ``service`` (RFC 5234; ``length`` and friends: the overview)."""
    kinds = _kinds(service)
    width = max(len(_rule_name(name)) for _, name, *_ in kinds) + 1
    lines = ["```text"]
    for kind, name, sender, payload, limit in kinds:
        body = {"bytes": "length *OCTET", "empty": "%x00.00.00.00",
                "JSON object": "length json-object",
                "empty, or JSON object": "( %x00.00.00.00 / length json-object )"}[payload]
        lines.append(f"{_rule_name(name):<{width}}= %x{kind:02x} {body}"
                     f"{'':<{max(1, 38 - len(body))}}; {sender}"
                     + ("" if payload == "empty" else f", payload <= {limit}"))
    lines.append("```")
    return "\n".join(lines)


# -- state tables ------------------------------------------------------------------


def states_table(service: str) -> str:
    """Every transition of ``service``'s ``TRANSITIONS``: the state, who sends what, the next."""
    framed = FRAMED[service]
    answering = framed.protocol.ANSWERING_STATES
    rows = []
    for (state, role, event_type), new in framed.protocol.TRANSITIONS.items():
        message = framed.kind_of[event_type].name
        after = f"`{new.name}`"
        if message == "ERROR":
            if state in answering:
                after = f"`{new.name}` if `fatal` is false, `CLOSED` if true"
            else:
                after = f"`{new.name}` (`fatal` MUST be true)"
        rows.append((f"`{state.name}`", role.value, message, after))
    return _table(["state", "sender", "message", "next state"], rows)


# -- error tables ------------------------------------------------------------------


def _error_specs(module: Any) -> list[ErrorSpec]:
    return list(module.ERRORS.values())


def _closes(fatal: bool | None) -> str:
    return {True: "closes", False: "stays open", None: "see *when*"}[fatal]


def errors_table(module: Any) -> str:
    """A service's ``ERRORS``: every code its server sends, when, and whether it closes."""
    rows = [(f"`{spec.code}`", spec.when, _closes(spec.fatal)) for spec in _error_specs(module)]
    return _table(["code", "when", "connection"], rows)


# The common codes no framed server sends: what they mean, where they occur.
OTHER_COMMON_CODES = {
    wire_errors.ErrorCode.LINE_TOO_LONG: "chat: a line longer than `--max-line` (the line is "
    "refused, the connection goes on)",
    wire_errors.ErrorCode.BAD_STATE: "never on the wire: netlab's own code refusing to send a "
    "message the state does not allow (the peer would get `unexpected-message`)",
}


def common_codes_table() -> str:
    """The wire layer's codes: as exec and upload send them, then the others."""
    rows = [(f"`{spec.code}`", spec.when, _closes(spec.fatal))
            for spec in wire_errors.FRAMED_PROTOCOL_ERRORS]
    rows += [(f"`{code}`", when, "—") for code, when in OTHER_COMMON_CODES.items()]
    return _table(["code", "when (exec, upload)", "connection"], rows)


# -- field tables ------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of a JSON message, as a receiver checks it.

    ``required``: True, False, or the rule that replaces presence (``exactly
    one of status, signal``). ``good`` and ``bad``: values a receiver accepts
    and refuses (``bad-message``); the test adds the values of other JSON types.
    """

    name: str
    type: str  # string, integer, number, boolean, array
    required: bool | str
    values: str
    default: str = "—"
    meaning: str = ""
    good: tuple[Any, ...] = ()
    bad: tuple[Any, ...] = ()
    context: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # other fields then


@dataclass(frozen=True)
class Message:
    """A JSON message: its kind, an example a receiver accepts, and its fields."""

    kind: str
    example: dict[str, Any]
    fields: tuple[Field, ...]


def _text_field(name: str, meaning: str, *, required: bool = True, limit: int | None = None,
                values: str = "", default: str = "—") -> Field:
    shown = values or (f"0–{limit} characters" if limit else "any string")
    bad = ("x" * (limit + 1),) if limit else ()
    return Field(name, "string", required, shown, default, meaning, ("", "é"), bad)


SECONDS = "finite, > 0"
HEX64 = "64 hexadecimal digits (either case; servers send lower case)"

EXEC_FIELDS: tuple[Message, ...] = (
    Message("RUN", {"command": "echo hi", "token": "demo"}, (
        _text_field("command", "run with `/bin/sh -c`; empty, blank or holding NUL is "
                    "refused `bad-command` by the server, not by the frame"),
        _text_field("token", "the shared secret; compared with the server's "
                    f"(1–{exec_config.MAX_TOKEN} characters): another string is `auth-failed`"),
        Field("timeout", "number", False, SECONDS, "the server's `--command-timeout`",
              "seconds the command may run; the server caps it at `--command-timeout`",
              (0.001, 5, 1e9), (0, -1, 0.0)),
        Field("stdin", "boolean", False, "`true`, `false`", "`false`",
              "the client will send STDIN frames (and then STDIN_EOF)", (True, False)),
    )),
    Message("QUEUED", {"position": 1, "timeout": 10.0}, (
        Field("position", "integer", True, f"1 to {MAX_INT}", meaning="place in the line, 1: next",
              good=(1, MAX_INT), bad=(0, -1, MAX_INT + 1)),
        Field("timeout", "number", True, SECONDS, meaning="seconds the RUN waits at most",
              good=(0.5, 10), bad=(0, -1)),
    )),
    Message("STARTED", {"pid": 4242, "timeout": 5.0, "output_limit": 1024}, (
        Field("pid", "integer", True, f"1 to {MAX_INT}", meaning="the command's process group",
              good=(1,), bad=(0, -1)),
        Field("timeout", "number", True, SECONDS, meaning="its wall-time limit, in seconds",
              good=(300,), bad=(0,)),
        Field("output_limit", "integer", True, f"0 to {MAX_INT}",
              meaning="bytes of stdout + stderr it may write", good=(0, MAX_INT),
              bad=(-1, MAX_INT + 1)),
    )),
    Message("EXIT", {"status": 0, "signal": None, "reason": "exit", "elapsed": 0.5,
                     "stdout_bytes": 3, "stderr_bytes": 0}, (
        Field("status", "integer or null", "exactly one of `status`, `signal`", "0–255",
              meaning="the exit status", good=(0, 255), bad=(-1, 256)),
        Field("signal", "string or null", "exactly one of `status`, `signal`",
              f"a signal's name, at most {exec_codec.MAX_TEXT} characters",
              meaning="the signal that ended it (`SIGKILL`)", good=("SIGKILL",),
              bad=("x" * (exec_codec.MAX_TEXT + 1),), context={"status": None}),
        Field("reason", "string", True,
              ", ".join(f"`{reason.value}`" for reason in exec_events.Reason),
              meaning="who ended the command (below)", good=tuple(exec_events.Reason),
              bad=("", "crashed")),
        Field("elapsed", "number", True, "finite, ≥ 0", meaning="seconds it ran",
              good=(0, 0.25), bad=(-1,)),
        Field("stdout_bytes", "integer", True, f"0 to {MAX_INT}",
              meaning="bytes it wrote to stdout", good=(0,), bad=(-1,)),
        Field("stderr_bytes", "integer", True, f"0 to {MAX_INT}",
              meaning="bytes it wrote to stderr", good=(0,), bad=(-1,)),
    )),
    Message("ERROR", {"code": "busy", "message": "no slot", "fatal": False}, (
        Field("code", "string", True, f"1–{exec_codec.MAX_CODE} characters: a code of the table "
              "below, or one the client does not know (an error all the same)", meaning="why",
              good=("busy", "some-new-code"), bad=("", "x" * (exec_codec.MAX_CODE + 1))),
        _text_field("message", "for people", required=False, limit=exec_codec.MAX_TEXT,
                    default='`""`'),
        Field("fatal", "boolean", False, "`true`, `false`",
              "by the state (see *Errors*)", "`true`: the server closes the connection after it",
              (True,)),
    )),
)

_NAME = "any string the frame holds; the server's rules (below) answer `bad-name`"
_ANY_NAME = ("a.txt", "", "../x", "x" * (upload_codec.MAX_TEXT + 1))

UPLOAD_FIELDS: tuple[Message, ...] = (
    Message("PUT", {"name": "a.txt", "size": 4, "sha256": "ab" * 32}, (
        Field("name", "string", True, _NAME, meaning="the file's name", good=_ANY_NAME),
        Field("size", "integer", True, f"0 to {MAX_INT}", meaning="its size in bytes",
              good=(0, MAX_INT), bad=(-1, MAX_INT + 1)),
        Field("sha256", "string", False, HEX64, "declared at END instead",
              "the SHA-256 of the whole file", ("AB" * 32,), ("ab" * 31, "zz" * 32)),
        Field("overwrite", "boolean", False, "`true`, `false`", "`false`",
              "replace a stored file of that name (with `--overwrite on-request`)", (True,)),
        Field("resume", "string", False, "32 lower-case hexadecimal digits", "none: start over",
              "the token of an earlier READY, to resume that upload", ("0f" * 16,),
              ("0F" * 16, "0f" * 15)),
    )),
    Message("READY", {"offset": 0, "resume": "0f" * 16}, (
        Field("offset", "integer", True, "0 to the PUT's `size`",
              meaning="send the file from this byte on", good=(0, 4), bad=(-1,)),
        Field("resume", "string", False, "32 lower-case hexadecimal digits; the server "
              "always sends it", '`""`', "present it in a later PUT to resume this upload",
              ("ab" * 16,), ("ab",)),
    )),
    Message("STORED", {"name": "a.txt", "size": 4, "sha256": "ab" * 32}, (
        Field("name", "string", True, "a stored name", meaning="as stored (NFC)"),
        Field("size", "integer", True, f"0 to {MAX_INT}", good=(0,), bad=(-1,)),
        Field("sha256", "string", True, HEX64, bad=("ab",)),
    )),
    Message("LISTING", {"files": [{"name": "a.txt", "size": 4, "mtime": 1.5}]}, (
        Field("files", "array", True, "objects of `name` (string), `size` (integer, 0 to "
              f"{MAX_INT}), `mtime` (number: seconds since the epoch)",
              meaning="one batch of the stored files", good=([],),
              bad=([1], [{"name": "a", "size": -1, "mtime": 0}], [{"name": "a", "size": 1}])),
    )),
    Message("STAT", {"name": "a.txt"}, (
        Field("name", "string", True, _NAME, good=_ANY_NAME),
    )),
    Message("INFO", {"name": "a.txt", "size": 4, "mtime": 1.5, "sha256": "ab" * 32}, (
        Field("name", "string", True, "a stored name"),
        Field("size", "integer", True, f"0 to {MAX_INT}", good=(0,), bad=(-1,)),
        Field("mtime", "number", True, "seconds since the epoch (UTC)", good=(0, 1.5)),
        Field("sha256", "string", True, HEX64, bad=("ab",)),
    )),
    Message("GET", {"name": "a.txt", "offset": 0}, (
        Field("name", "string", True, _NAME, good=_ANY_NAME),
        Field("offset", "integer", False, f"0 to {MAX_INT}", "0",
              "send the file from this byte on", (0, 3), (-1, MAX_INT + 1)),
    )),
    Message("META", {"name": "a.txt", "size": 4, "sha256": "ab" * 32, "offset": 0}, (
        Field("name", "string", True, "a stored name"),
        Field("size", "integer", True, f"0 to {MAX_INT}", meaning="the whole file's size",
              good=(4,), bad=(-1,)),
        Field("sha256", "string", True, HEX64, meaning="the whole file's digest", bad=("ab",)),
        Field("offset", "integer", True, "the GET's `offset`", meaning="DATA starts at this byte",
              good=(0,), bad=(-1,)),
    )),
    Message("END", {"sha256": "ab" * 32}, (
        Field("sha256", "string", False, HEX64, "none",
              "only in the END of an upload whose PUT declared no `sha256`", bad=("ab",)),
    )),
    Message("ERROR", {"code": "exists", "message": "taken", "fatal": False}, (
        Field("code", "string", True, f"1–{upload_codec.MAX_CODE} characters: a code of the "
              "table below, or one the client does not know (an error all the same)",
              meaning="why", good=("exists", "some-new-code"),
              bad=("", "x" * (upload_codec.MAX_CODE + 1))),
        _text_field("message", "for people", required=False, limit=upload_codec.MAX_TEXT,
                    default='`""`'),
        Field("fatal", "boolean", False, "`true`, `false`", "by the state (see *Errors*)",
              "`true`: the server closes the connection after it", (True,)),
    )),
)


def _required(field: Field) -> str:
    if field.required is True:
        return "yes"
    if field.required is False:
        return "no"
    return field.required


def fields_table(messages: tuple[Message, ...], kind: str) -> str:
    (message,) = [m for m in messages if m.kind == kind]
    rows = [(f"`{f.name}`", f.type, _required(f), f.values, f.default, f.meaning)
            for f in message.fields]
    return _table(["field", "JSON type", "required", "values", "default", "meaning"], rows)


# -- the pages -----------------------------------------------------------------------


def _fields_sections(service: str, messages: tuple[Message, ...]) -> dict[str, Callable[[], str]]:
    return {f"{service}-fields-{m.kind.lower()}": partial(fields_table, messages, m.kind)
            for m in messages}


OVERVIEW: Sections = {
    "common-settings": common_settings_table,
    "common-codes": common_codes_table,
    "overview-constants": overview_constants,
}

CHAT: Sections = {
    "chat-errors": lambda: errors_table(chat_events),
    "chat-settings": lambda: service_settings_table(chat_config.ChatConfig),
    "chat-constants": chat_constants,
}

EXEC: Sections = {
    "exec-kinds": lambda: kinds_table("exec"),
    "exec-grammar": lambda: grammar("exec"),
    **_fields_sections("exec", EXEC_FIELDS),
    "exec-states": lambda: states_table("exec"),
    "exec-errors": lambda: errors_table(exec_events),
    "exec-settings": lambda: service_settings_table(exec_config.ExecConfig),
    "exec-constants": exec_constants,
}

UPLOAD: Sections = {
    "upload-kinds": lambda: kinds_table("upload"),
    "upload-grammar": lambda: grammar("upload"),
    **_fields_sections("upload", UPLOAD_FIELDS),
    "upload-states": lambda: states_table("upload"),
    "upload-errors": lambda: errors_table(upload_events),
    "upload-settings": lambda: service_settings_table(upload_config.UploadConfig),
    "upload-constants": upload_constants,
}

CLASSIC: Sections = {
    "classic-constants": classic_constants,
}

__all__ = [
    "CHAT",
    "CLASSIC",
    "EXEC",
    "EXEC_FIELDS",
    "OVERVIEW",
    "UPLOAD",
    "UPLOAD_FIELDS",
    "Field",
    "Message",
]
