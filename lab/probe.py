"""``lab probe``: is each server still serving new clients, and what do its counters say?

Run in a client container after a scenario's faults. For each service named
(``--chat H:P``, ``--exec H:P``, ``--upload H:P``) a fresh client does one
whole exchange: chat connects, gets its welcome and an answer to ``/who``;
exec runs ``true`` (exit status 0); upload lists the files. Then, for each
``--stats NAME=H:P``, it reads the server's counters (one JSON line per
connection to the stats port), after waiting up to ``--settle`` seconds for
the open connections and tasks to stop changing for a second (or, with
``--baseline NAME=N``, to be back to N open connections and unchanged
since the previous look). It prints one JSON object::

    {"serves": {"chat": {"ok": true, "error": null, "seconds": 0.004}, ...},
     "stats": {"chat": {"connections_open": 0, ...}, "exec": null}}

``null`` stats: the stats port did not answer (a twin has none). The probe
always exits 0 (its findings are in the JSON), 2 for bad options.

Error handling: every exchange and every stats read is bounded by
``--timeout``; a failure is that service's ``error`` text, never a crash.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import click
import trio

from lab.fleet.record import describe
from services.chat.client import open_chat
from services.remote_exec.client import open_exec
from services.remote_exec.config import LAB_TOKEN, TOKEN_ENV
from services.upload.client import open_upload

Address = tuple[str, int]
POLL = 0.25
STEADY_FOR = 1.0  # without a baseline: the open counts unchanged this long means settled
STATS_LIMIT = 1 << 20
OPEN_COUNTERS = ("connections_open", "tasks_open")


@dataclass(frozen=True)
class Served:
    """Whether a new client was served end to end, why not, and how long it took."""

    ok: bool
    error: str | None
    seconds: float


def parse_address(text: str) -> Address:
    """``HOST:PORT`` as a pair; ``ValueError`` if it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


async def _chat(address: Address, token: str) -> None:
    async with open_chat(*address) as chat:
        await chat.who()


async def _exec(address: Address, token: str) -> None:
    async with open_exec(*address, token=token) as ex:
        result = await ex.run("true")
    if result.exit_code != 0:
        raise RuntimeError(f"'true' ended with {result.exit_code}: {result.describe()}")


async def _upload(address: Address, token: str) -> None:
    async with open_upload(*address) as up:
        await up.list()


EXCHANGES: dict[str, Callable[[Address, str], Awaitable[None]]] = {
    "chat": _chat, "exec": _exec, "upload": _upload,
}


async def serves(service: str, address: Address, *, token: str = LAB_TOKEN,
                 timeout: float = 10.0) -> Served:
    """Does ``service`` at ``address`` serve a new client end to end within ``timeout``?"""
    start = time.monotonic()
    error: str | None = None
    try:
        with trio.fail_after(timeout):
            await EXCHANGES[service](address, token)
    except trio.TooSlowError:
        error = f"no complete exchange within {timeout:g} s"
    except Exception as exc:
        error = f"{type(exc).__name__}: {describe(exc)}"
    return Served(error is None, error, round(time.monotonic() - start, 4))


async def read_stats(address: Address, *, timeout: float = 5.0) -> dict[str, Any] | None:
    """The counters a stats port serves, or None if it does not answer with JSON in time."""
    data = bytearray()
    with trio.move_on_after(timeout):
        try:
            stream = await trio.open_tcp_stream(*address)
            async with stream:
                while chunk := await stream.receive_some(65536):
                    data += chunk
                    if len(data) > STATS_LIMIT:
                        return None
        except (OSError, trio.BrokenResourceError):
            return None
        try:
            value = json.loads(bytes(data))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    return None


async def settled_stats(stats: dict[str, Address], *, settle: float,
                        baseline: dict[str, int] | None = None,
                        timeout: float = 5.0) -> dict[str, dict[str, Any] | None]:
    """Read every stats port, polling up to ``settle`` s until the open counts stop changing."""
    baseline = baseline or {}

    async def sample() -> dict[str, dict[str, Any] | None]:
        return {name: await read_stats(address, timeout=timeout)
                for name, address in stats.items()}

    current = await sample()
    deadline = trio.current_time() + settle
    steady_since = trio.current_time()
    while trio.current_time() < deadline:
        await trio.sleep(POLL)
        previous, current = current, await sample()
        if any(_open(current[name]) != _open(previous[name]) for name in stats):
            steady_since = trio.current_time()
            continue
        if baseline:
            at_baseline = all(current.get(name) is None
                              or (current[name] or {}).get("connections_open", 0) <= limit
                              for name, limit in baseline.items())
            if at_baseline:
                break
        elif trio.current_time() - steady_since >= STEADY_FOR:
            break
    return current


def _open(counters: dict[str, Any] | None) -> tuple[Any, ...] | None:
    return None if counters is None else tuple(counters.get(k) for k in OPEN_COUNTERS)


async def probe(services: dict[str, Address], *, token: str = LAB_TOKEN,
                stats: dict[str, Address] | None = None, settle: float = 0.0,
                baseline: dict[str, int] | None = None,
                timeout: float = 10.0) -> dict[str, Any]:
    """The probe's JSON: each service served or not, then each server's settled counters."""
    served: dict[str, Served] = {}
    async with trio.open_nursery() as nursery:
        for service, address in services.items():
            async def check(service: str = service, address: Address = address) -> None:
                served[service] = await serves(service, address, token=token, timeout=timeout)
            nursery.start_soon(check)
    counters = await settled_stats(stats or {}, settle=settle, baseline=baseline,
                                   timeout=min(timeout, 5.0))
    return {"serves": {name: asdict(served[name]) for name in services}, "stats": counters}


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> Address | None:
    if value is None:
        return None
    try:
        return parse_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _named(kind: Callable[[str], Any]) -> Callable[..., dict[str, Any]]:
    def convert(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
                ) -> dict[str, Any]:
        named: dict[str, Any] = {}
        for value in values:
            name, sep, rest = value.partition("=")
            try:
                if not sep or not name:
                    raise ValueError(f"{value!r} is not NAME=VALUE")
                named[name] = kind(rest)
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
        return named
    return convert


@click.command()
@click.option("--chat", callback=_address, metavar="HOST:PORT", help="Chat server to try.")
@click.option("--exec", "exec_", callback=_address, metavar="HOST:PORT",
              help="Exec server to try (runs 'true').")
@click.option("--upload", callback=_address, metavar="HOST:PORT", help="Upload server to try.")
@click.option("--token", envvar=TOKEN_ENV, default=LAB_TOKEN, show_default=True,
              help=f"Exec token (${TOKEN_ENV}).")
@click.option("--stats", multiple=True, callback=_named(parse_address), metavar="NAME=HOST:PORT",
              help="A stats port to read (repeatable).")
@click.option("--settle", type=click.FloatRange(0, 600), default=0.0, show_default=True,
              help="Seconds to wait at most for the open counts to stop changing.")
@click.option("--baseline", multiple=True, callback=_named(int), metavar="NAME=N",
              help="Open connections NAME should be back to (repeatable; with --settle).")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
              help="Seconds each exchange may take.")
def cli(chat: Address | None, exec_: Address | None, upload: Address | None, token: str,
        stats: dict[str, Address], settle: float, baseline: dict[str, int],
        timeout: float) -> None:
    """Check that each server serves a new client; print that and its counters as JSON."""
    services = {name: address for name, address in
                (("chat", chat), ("exec", exec_), ("upload", upload)) if address is not None}
    result = trio.run(partial(probe, services, token=token, stats=stats, settle=settle,
                              baseline=baseline, timeout=timeout))
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
