"""Every exercise, in order: one module per exercise, each defining ``EXERCISE``.

:data:`MODULES` names them (``lab.exercises.exNN_id``), sorted; a listed
module that does not exist yet is skipped, an error inside one is not.
:func:`find` looks an exercise up by id, number or folder name.
"""

from __future__ import annotations

import importlib

from lab.errors import UnknownExercise
from lab.exercises.model import Exercise

MODULES = (
    "ex01_first_connection",
    "ex02_chat",
    "ex03_boundaries",
    "ex04_exec",
    "ex05_nagle",
    "ex06_upload",
    "ex07_concurrency",
    "ex08_disconnects",
    "ex09_backpressure",
    "ex10_trust",
)


def _load() -> tuple[Exercise, ...]:
    found = []
    for name in MODULES:
        qualified = f"{__package__}.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as error:
            if error.name == qualified:
                continue
            raise
        exercise = module.EXERCISE
        if not isinstance(exercise, Exercise):
            raise TypeError(f"{qualified}.EXERCISE is not an Exercise")
        found.append(exercise)
    return tuple(sorted(found, key=lambda exercise: exercise.number))


EXERCISES: tuple[Exercise, ...] = _load()


def find(name: str | int) -> Exercise:
    """The exercise ``name``: id (``boundaries``), number (``3``, ``03``) or folder name."""
    text = str(name).strip().lower()
    for exercise in EXERCISES:
        folder = f"{exercise.number:02d}-{exercise.id}"
        if text in (exercise.id, folder) or (text.isdigit() and int(text) == exercise.number):
            return exercise
    known = ", ".join(f"{e.number} {e.id}" for e in EXERCISES)
    raise UnknownExercise(f"no exercise {name!r} (exercises: {known})")


def folder(exercise: Exercise) -> str:
    """The exercise's folder under ``exercises/``: ``03-boundaries``."""
    return f"{exercise.number:02d}-{exercise.id}"
