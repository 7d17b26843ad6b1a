"""Who may use the control API: the harness and the learner's own tools, not web pages.

Threat model: the API is published on the learner's 127.0.0.1, and any web
page open in the learner's browser can send requests to 127.0.0.1 ports —
directly (a cross-origin ``fetch``: the browser adds ``Origin``), or through
DNS rebinding (the attacker's name resolves to 127.0.0.1: ``Host`` carries
that name). A page that could add toxics could cut or slow every learner
connection, so the rules, in this order, are:

1. a request carrying ``Origin`` is refused (403): browsers add it to
   cross-origin and to non-GET requests; the harness, curl and
   :class:`lab.proxy.client.ProxyClient` never send one;
2. a ``Host`` that is not an IP literal, ``localhost`` or ``gateway`` (the
   compose service name, for clients on the lab network) is refused (403):
   a rebinding page's ``Host`` is its own domain name;
3. when a token is configured, ``Authorization: Bearer TOKEN`` is required
   (401 otherwise), compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field

from lab.proxy.http import Answer, Request

HOST_NAMES = frozenset({"localhost", "gateway"})
CHALLENGE = (("WWW-Authenticate", 'Bearer realm="netlab-proxy"'),)


def _host_name(value: str) -> str:
    """The host part of a ``Host`` header: ``[::1]:8474`` → ``::1``, ``a:80`` → ``a``."""
    value = value.strip()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def allowed_host(value: str) -> bool:
    """True for an IP literal, ``localhost`` or ``gateway`` (any port)."""
    host = _host_name(value).lower().rstrip(".")
    if host in HOST_NAMES:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Guard:
    """The API's access rules; ``token`` empty: no token asked."""

    token: str = field(default="", repr=False)

    def refusal(self, request: Request) -> Answer | None:
        """The error answer for a request the rules refuse, else ``None``."""
        if "origin" in request.headers:
            return Answer(403, {"error": "requests from web pages (with Origin) are refused"})
        if not allowed_host(request.headers.get("host", "")):
            return Answer(403, {"error": "Host must be an IP address, localhost or gateway"})
        if self.token and not self._authorized(request.headers.get("authorization", "")):
            return Answer(401, {"error": "Authorization: Bearer TOKEN required"}, CHALLENGE)
        return None

    def _authorized(self, header: str) -> bool:
        scheme, _, given = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())
