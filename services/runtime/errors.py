"""Errors of the Trio runtime layer.

``RuntimeFailure``
    Base class. Each subclass is a reason a connection ends that is *not* a
    protocol violation; handlers catch them and log the reason.
``PeerClosed``
    The peer went away: EOF at a point it was not allowed, a reset
    (``ECONNRESET``), a broken pipe. Trio's ``BrokenResourceError`` is
    translated into this at one place (``PeerConnection``).
``PeerReset``
    The ``PeerClosed`` of a reset: counted and logged as ``reset``. A peer
    that vanished (keepalive or the user timeout gave up on it: ``ETIMEDOUT``,
    see :mod:`services.runtime.keepalive`) ends up here too.
``PeerTimeout``
    The peer did not send, or did not accept our bytes, within the configured
    time (idle timeout, send timeout). Half-open peers end up here when
    keepalive is off.
``HandshakeTimeout``
    The peer did not finish its first message within the handshake timeout.
``SlowConsumer``
    The peer reads too slowly: its bounded outgoing queue is full. The server
    disconnects it with a reason rather than stall anyone else.

:func:`leaves` flattens the exception groups Trio nests (one per nursery).
"""

from __future__ import annotations

from collections.abc import Iterator


class RuntimeFailure(Exception):
    """Base class: a connection ended for a transport-level reason."""

    reason = "failure"


class PeerClosed(RuntimeFailure):
    """The peer closed or reset the connection."""

    reason = "peer-closed"


class PeerReset(PeerClosed):
    """The connection was reset (``ECONNRESET``, a broken pipe, a peer keepalive gave up on)."""

    reason = "reset"


class PeerTimeout(RuntimeFailure):
    """The peer was silent, or did not read, for longer than allowed."""

    reason = "timeout"


class HandshakeTimeout(PeerTimeout):
    """The peer did not complete its first message in time (a slot held by a silent peer)."""

    reason = "handshake-timeout"


class SlowConsumer(RuntimeFailure):
    """The peer's outgoing queue overflowed."""

    reason = "slow-consumer"


def leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    """The exceptions in ``group`` and in the groups nested in it, in order (Trio nests one
    group per nursery)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from leaves(exc)
        else:
            yield exc
