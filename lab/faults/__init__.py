"""Faults: value objects with ``apply``/``revert``, each with a target and an expected outcome.

``base`` (the contract and the history ops a fault leaves), one module per
family: ``stream`` (fault-proxy toxics), ``peer`` (misbehaving clients),
``container`` (kill, pause, stop and restart), ``network`` (disconnect,
iptables, ``tbf``).
"""
