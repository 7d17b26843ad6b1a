"""Named scenarios: a seeded workload, a fault schedule and the invariants that must hold.

``scenario`` (what a scenario is and how one seed becomes its plan),
``catalog`` (the named scenarios), ``session`` (a running lab: the stack, its
fault context, fleets and probes in containers), ``runner`` (runs one plan:
fleets, triggers, faults, observations, verdicts), ``cli`` (``lab scenario``),
``replay`` (``lab replay``).
"""
