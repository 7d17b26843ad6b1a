"""netlab's chat service: line protocol, server with rooms and operator console, client.

One port serves three kinds of client (see :mod:`services.chat.detect`):
netlab's own client, people on ``nc``/``telnet``, and the tutorial's
blocking-socket chat client.
"""
