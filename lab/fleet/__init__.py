"""Client fleets: chat, exec and upload clients run as Trio tasks inside a client container.

``lab fleet run --spec JSON`` (:mod:`lab.fleet.cli`) reads a
:class:`~lab.fleet.spec.FleetSpec` and writes every client's ops
(:class:`~lab.history.Op`) to stdout as JSON lines; :func:`lab.fleet.run.run_fleet`
is the same in-process.
"""
