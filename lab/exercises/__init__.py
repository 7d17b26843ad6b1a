"""Exercises that grade a learner's own programs (``lab check``).

An :class:`~lab.exercises.model.Exercise` is a list of checks, each run
against the learner's client or server in a fresh process; the catalog
(:mod:`lab.exercises.catalog`) holds the ten exercises, one module each
(``ex01_first_connection.py`` ...).
"""
