"""Broken twins: tutorial-style servers kept as fixtures, each with exactly one classic bug.

Each twin speaks enough of netlab's protocols (preface, lines, frames) for
netlab's own client libraries, and so the harness's fleets, to work against
it in the good case, but is written the way the course chapter writes
servers: ``socketserver``, blocking sockets, a thread per client, no
timeouts. Run against a twin, each scenario that provokes the bug must fail
the invariant named here; that shows the invariant catches a real bug.

=========================  =======================================  ==============================
module                     bug (the tutorial habit)                 invariant(s) that catch it
=========================  =======================================  ==============================
:mod:`lab.twins.chat`      one ``recv(1024)`` taken as one message  ``chat.delivery``
:mod:`lab.twins.exec`      pipes read only after ``wait()``         ``exec.intact``,
                                                                    ``exec.no-leftovers``
:mod:`lab.twins.upload`    bytes written straight to the final name ``upload.complete-or-absent``
=========================  =======================================  ==============================

``python -m lab.twins.chat`` (``exec``, ``upload``) runs one; in the lab,
``lab/twins/compose.twins.yaml`` puts them in place of netlab's servers. They
have no stats port: the harness reports the counter invariants as unknown.
"""

from __future__ import annotations

from pathlib import Path

from lab.twins import chat, exec, upload

COMPOSE_OVERRIDE = Path(__file__).with_name("compose.twins.yaml")

# service -> the invariants a scenario provoking its twin's bug must fail
BREAKS: dict[str, tuple[str, ...]] = {
    "chat": (chat.BREAKS,),
    "exec": (exec.BREAKS, *exec.ALSO_BREAKS),
    "upload": (upload.BREAKS,),
}
