"""The thin Trio layer every netlab server stands on.

``serve`` accepts connections and runs one handler task each; ``PeerConnection``
wraps a stream with a send queue, timeouts and counters; ``Flusher`` writes every
connection's queue, once a scheduler pass; ``Lifecycle`` carries graceful shutdown;
``logs`` writes structured lines.

Every service's server stands on the skeleton in ``server`` (construction,
``run``, per-connection error logging) and, with a netlab and a classic mode,
``sniff`` (the preface, with its timeout); its sessions share a ``context``,
including the ``idle`` waits shutdown cuts short. Clients connect through
``retry`` (one ``Backoff``, one ``connect_with_retry``).
"""

from services.runtime.config import ServerConfig
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.errors import PeerClosed, PeerTimeout, RuntimeFailure, SlowConsumer
from services.runtime.lifecycle import Lifecycle
from services.runtime.serve import serve

__all__ = [
    "Counters",
    "Lifecycle",
    "PeerClosed",
    "PeerConnection",
    "PeerTimeout",
    "RuntimeFailure",
    "ServerConfig",
    "SlowConsumer",
    "serve",
]
