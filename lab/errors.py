"""Errors of the lab harness.

``LabError``
    Base class of everything the harness raises on purpose.
``EnvironmentProblem``
    The machine cannot run the lab (no Docker engine, no Compose v2, no base
    image). The message says what is missing and how to provide it.
``StackError``
    A stack failed to start, become healthy or stop; the message carries the
    services' logs.
"""

from __future__ import annotations


class LabError(Exception):
    """Base class of the harness's errors."""


class EnvironmentProblem(LabError):
    """The machine lacks something the lab needs."""


class StackError(LabError):
    """A lab stack did not start, become healthy or stop as expected."""
