"""The fault proxy: TCP relays whose streams pass through toxics switched at runtime.

``toxics`` (the faults, as value objects), ``chain`` (one direction's toxics
of one connection), ``proxy`` (one connection's relay through them, and a
listener for the proxy on its own; the gateway relays each route through
one), ``address`` (``HOST:PORT``), ``http`` (a small JSON-over-HTTP server),
``guard`` (who may use the API), ``api`` (the HTTP + JSON control API),
``client`` (its async Python client).
"""
