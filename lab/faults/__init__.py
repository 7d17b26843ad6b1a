"""Faults: value objects with ``apply``/``revert``, each with a target and an expected outcome.

``base`` (the contract and the history ops a fault leaves), one module per
family: ``stream`` (fault-proxy toxics), ``peer`` (misbehaving clients,
``lab rogue``), ``container`` (kill, pause, stop and restart), ``network``
(disconnect, iptables, ``tbf``; netem's absence detected). ``context`` is
the :class:`~lab.faults.base.FaultContext` over a running stack;
``naming`` derives what a fault calls the things it creates.
"""
