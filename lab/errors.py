"""Errors of the lab harness.

``LabError``
    Base class of everything the harness raises on purpose.
``EnvironmentProblem``
    The machine cannot run the lab (no Docker engine, no Compose v2, no base
    image). The message says what is missing and how to provide it.
``StackError``
    A stack failed to start, become healthy or stop; the message carries the
    services' logs.
``InvalidSpec``
    A fleet's spec (``lab.fleet.spec``) that does not parse or is out of
    range; the message names the field.
``FaultError``
    A fault could not be applied or reverted: its target is missing (no
    container for that service or fleet, no open proxied connection for that
    client) or a sidecar's command failed; the message says which.
``BenchError``
    ``lab bench`` could not measure (a baseline that never accepted, a load
    program that failed); the message carries the program's stderr.
``CaptureError``
    ``lab capture`` could not capture or read packets: no such service or
    project, a tcpdump that failed, a file that is not a readable pcap; the
    message says which and carries tcpdump's output.
``ProxyError``
    The fault proxy refused a request: ``InvalidToxic`` (bad description),
    ``UnknownName`` (no such proxy, toxic or connection), ``NameTaken``,
    ``InvalidAddress`` (a ``HOST:PORT`` that does not parse).
``ExerciseError``
    ``lab check`` could not grade: ``UnknownExercise`` (no exercise or check
    by that name), ``ProgramFailed`` (the learner's program did not start,
    or did not listen: the message is the evidence, a failed check's
    detail), ``GradingError`` (the grading container or driver failed).
"""

from __future__ import annotations


class LabError(Exception):
    """Base class of the harness's errors."""


class EnvironmentProblem(LabError):
    """The machine lacks something the lab needs."""


class StackError(LabError):
    """A lab stack did not start, become healthy or stop as expected."""


class InvalidSpec(LabError, ValueError):
    """A fleet spec that does not parse or is out of range (``lab fleet run`` exits 2)."""


class FaultError(LabError):
    """A fault's target is missing, or Docker or a sidecar refused to break it."""


class ProxyError(LabError):
    """A request the fault proxy refuses; subclasses say why (the API's status code)."""


class InvalidToxic(ProxyError, ValueError):
    """A toxic or proxy description that does not parse or is out of range (HTTP 400)."""


class UnknownName(ProxyError, LookupError):
    """No proxy, toxic or open connection by that name or id (HTTP 404)."""


class NameTaken(ProxyError):
    """A proxy or toxic of that name exists already (HTTP 409)."""


class InvalidAddress(ProxyError, ValueError):
    """A ``HOST:PORT`` (or port) that does not parse or is out of range (HTTP 400)."""


class BenchError(LabError):
    """A bench could not measure: a baseline never accepted, a load program failed."""


class ExerciseError(LabError):
    """``lab check`` could not grade a program; subclasses say why."""


class UnknownExercise(ExerciseError, LookupError):
    """No exercise (or no check of it) by that name or number."""


class ProgramFailed(ExerciseError):
    """The learner's program did not start or did not listen; the message is the evidence."""


class GradingError(ExerciseError):
    """The grading container or its driver failed (not the learner's program)."""


class CaptureError(LabError):
    """A capture that could not be made or read (``lab capture`` exits 1)."""
