"""The fault contract: a frozen value object that applies and reverts one named fault.

A :class:`Fault` holds what to break (its ``target`` and its settings) and
no state; :meth:`Fault.apply` breaks it through a :class:`FaultContext` and
returns the details worth recording (an id, an address); :meth:`Fault.revert`
undoes it (idempotent: safe after a failed or partial ``apply``).
:func:`applied` is the only way the harness runs one: it records a
``fault-apply`` and a ``fault-revert`` op in the history (process
``nemesis``) and reverts in ``finally``, so a fault never outlives its window
and a checker can name the fault active at any time (model: Jepsen's nemesis).

Each subclass documents, as class attributes, its ``family``, its
``expected`` outcome for a correct server and client, and the ``concept`` a
violation under it teaches; ``docs/harness.md`` lists them all.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal, Protocol

import trio

from lab.history import NEMESIS, History, Op

Family = Literal["stream", "peer", "container", "network"]
REVERT_TIMEOUT = 60.0  # a revert runs shielded from cancellation, but not forever
SERVICES = ("chat", "exec", "upload", "gateway")


@dataclass(frozen=True)
class Target:
    """What a fault hits: a ``service`` (server container or its proxy route), a
    fleet ``client`` (a process name such as ``chat-3``), or a ``fleet``
    (the container running a group of clients). ``connection`` narrows a
    stream fault to one proxied connection (its peer ``HOST:PORT``)."""

    service: str | None = None
    client: str | None = None
    fleet: str | None = None
    connection: str | None = None

    def __post_init__(self) -> None:
        if self.service is not None and self.service not in SERVICES:
            raise ValueError(f"unknown service {self.service!r}; one of {SERVICES}")

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in asdict(self).items() if v is not None]
        return ",".join(parts) or "all"


class FaultContext(Protocol):
    """What a fault may use of the running lab (``lab.faults.context`` builds it)."""

    @property
    def docker(self) -> Any:
        """A ``docker.DockerClient``."""

    @property
    def image(self) -> str:
        """The netlab image (for sidecars)."""

    def container(self, service: str) -> Any:
        """The container of a compose service (``chat``, ``exec``, ``upload``, ``gateway``)."""

    def fleet_container(self, fleet: str) -> Any:
        """The container running the fleet named ``fleet``."""

    def network(self) -> Any:
        """The lab's internal network."""

    def labels(self, **extra: str) -> dict[str, str]:
        """Labels for any Docker object a fault creates (cleanup goes by label)."""

    async def proxy_request(self, method: str, path: str, body: Any = None) -> Any:
        """One request on the gateway's fault-proxy control API (``lab.proxy.client``)."""

    def peer_of(self, client: str) -> str | None:
        """The ``HOST:PORT`` a fleet client connected from, once it has (from the history)."""

    def record(self, ops: Iterable[Op]) -> None:
        """Add ops a fault gathered (a rogue peer's) to the run's history."""


@dataclass(frozen=True, kw_only=True)
class Fault(ABC):
    """One named fault; subclasses add their settings as frozen fields."""

    kind: ClassVar[str]
    family: ClassVar[Family]
    expected: ClassVar[str]
    concept: ClassVar[str]

    target: Target = field(default_factory=Target)

    @abstractmethod
    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        """Break it; return details to record (JSON-able)."""

    @abstractmethod
    async def revert(self, ctx: FaultContext) -> None:
        """Undo it; safe to call after a failed or partial ``apply``."""

    def settings(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "target"}

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": asdict(self.target), "settings": self.settings()}

    def label(self) -> str:
        """``kind(target)``: how verdicts name it."""
        return f"{self.kind}({self.target.describe()})"


FAULT_KINDS: dict[str, type[Fault]] = {}


def register(cls: type[Fault]) -> type[Fault]:
    """Class decorator: make a fault kind known to :func:`fault_from_json`."""
    if cls.kind in FAULT_KINDS:
        raise ValueError(f"fault kind {cls.kind!r} registered twice")
    FAULT_KINDS[cls.kind] = cls
    return cls


def fault_from_json(data: dict[str, Any]) -> Fault:
    cls = FAULT_KINDS[data["kind"]]
    return cls(target=Target(**data.get("target", {})), **data.get("settings", {}))


@asynccontextmanager
async def applied(fault: Fault, ctx: FaultContext, history: History, *,
                  clock: Callable[[], float] = time.time) -> AsyncIterator[dict[str, Any]]:
    """Apply ``fault`` for the duration of the block; revert in ``finally``.

    Records ``info fault-apply`` at the time apply started (with the details
    and how long it took, or the error if it failed) and ``info
    fault-revert``; the fault's ``label`` is in both.
    """
    base = {"fault": fault.label(), "kind": fault.kind, "family": fault.family}
    # The window opens when apply starts: a restart or a sidecar's rule acts
    # before apply returns, and what breaks meanwhile happened under the fault.
    start = clock()
    try:
        details = await fault.apply(ctx)
    except BaseException as exc:
        history.append(Op(start, NEMESIS, "info", "fault-apply",
                          {**base, "error": f"{type(exc).__name__}: {exc}"}))
        await _revert(fault, ctx)
        history.append(Op(clock(), NEMESIS, "info", "fault-revert", base))
        raise
    history.append(Op(start, NEMESIS, "info", "fault-apply",
                      {**base, "details": details, "seconds": round(clock() - start, 3)}))
    try:
        yield details
    finally:
        try:
            await _revert(fault, ctx)
        finally:
            history.append(Op(clock(), NEMESIS, "info", "fault-revert", base))


async def _revert(fault: Fault, ctx: FaultContext) -> None:
    """Revert even while the run is being cancelled (a fault must not outlive it)."""
    with trio.CancelScope(shield=True), trio.fail_after(REVERT_TIMEOUT):
        await fault.revert(ctx)
