"""What an exercise is: its checks, what each check returns, and the result of a run.

A :class:`Check` grades one role (the learner's ``client`` or ``server``)
with an async ``run(ctx)`` that returns an :class:`Outcome`; the driver
turns each into a :class:`CheckResult` (with the concept, the hint on a
failure and the command line that runs that one check again). An
:class:`Expectation` is what the test suite asserts for a program kept in
the repository: the reference passes every check of its role, the
tutorial-style program fails exactly the checks named in ``fails``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from lab.exercises.context import CheckContext

Role = Literal["client", "server"]
ROLES: tuple[Role, ...] = ("client", "server")
Verdict = Literal["pass", "fail"]
DEFAULT_PORT = 8000
CHECK_TIMEOUT = 15.0


@dataclass(frozen=True)
class Outcome:
    """What a check's ``run`` returns: pass or fail, and the evidence (short, printable)."""

    passed: bool
    detail: str


@dataclass(frozen=True)
class Check:
    """One thing a learner's program must do right; ``name`` is kebab-case, unique in its exercise.

    ``concept`` is the idea the check tests, ``hint`` names the usual
    mistake (shown on a failure). ``timeout`` bounds the whole check; on
    expiry it fails with ``no answer within Ns`` and the same hint.
    """

    name: str
    role: Role
    concept: str
    hint: str
    run: Callable[[CheckContext], Awaitable[Outcome]]
    timeout: float = CHECK_TIMEOUT


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Expectation:
    """What CI asserts of a program in the repository.

    ``program`` is repository-relative; ``fails`` maps each check the
    program must fail to a substring of the hint it fails with (``{}``:
    it passes every check of its role).
    """

    program: str
    role: Role
    fails: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fails", _frozen(self.fails))

    def __hash__(self) -> int:
        return hash((self.program, self.role, tuple(sorted(self.fails.items()))))


@dataclass(frozen=True)
class Exercise:
    """One exercise: its number, id (``first-connection``), title, checks and expectations.

    ``port`` is where the learner's server listens, or where the learner's
    client connects, inside the grading container. ``doc`` is the
    repository-relative path of its page.
    """

    number: int
    id: str
    title: str
    checks: tuple[Check, ...]
    expectations: tuple[Expectation, ...]
    doc: str
    port: int = DEFAULT_PORT

    @property
    def roles(self) -> tuple[Role, ...]:
        """The roles it grades, in the order client, server."""
        return tuple(role for role in ROLES if any(c.role == role for c in self.checks))

    def checks_of(self, role: Role) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.role == role)

    def check(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict on one program, with what a learner needs to act on it."""

    exercise: str
    check: str
    role: Role
    verdict: Verdict
    detail: str
    concept: str
    hint: str  # empty on a pass
    seed: int
    replay: str  # the command line that runs this check again

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise, "check": self.check, "role": self.role,
            "verdict": self.verdict, "detail": self.detail, "concept": self.concept,
            "hint": self.hint, "seed": self.seed, "replay": self.replay,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        verdict = data["verdict"]
        role = data["role"]
        if verdict not in ("pass", "fail") or role not in ROLES:
            raise ValueError(f"not a check result: {dict(data)!r}")
        return cls(
            exercise=str(data["exercise"]), check=str(data["check"]), role=role,
            verdict=verdict, detail=str(data["detail"]), concept=str(data["concept"]),
            hint=str(data["hint"]), seed=int(data["seed"]), replay=str(data["replay"]),
        )
