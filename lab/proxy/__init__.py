"""The fault proxy: TCP relays whose streams pass through toxics switched at runtime.

``toxics`` (the faults, as value objects), ``chain`` (one direction's toxics
of one connection), ``proxy`` (a listener relaying to an upstream),
``api`` (the HTTP + JSON control API), ``client`` (its async Python client).
"""
