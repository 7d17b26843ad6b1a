"""How fast an upload must send its bytes: silence and average rate, sans-IO.

An upload holds one of ``--max-uploads`` slots. A client sending nothing for
``data_timeout`` seconds, or a byte just within each ``data_timeout`` (an
average below ``min_rate``), would hold it for as long as it likes: either
ends the upload with :class:`DataTimeout` or :class:`SlowUpload`, counted
under their ``reason``. Both sessions (netlab and classic) pace their
uploads with :class:`UploadPace`, waiting through ``ServerContext.paced_event``;
time is an argument here, so it is tested without a clock.
"""

from __future__ import annotations

from services.runtime.errors import PeerTimeout


class DataTimeout(PeerTimeout):
    """An upload sent no data for ``data_timeout`` seconds: its slot is freed."""

    reason = "data-timeout"


class SlowUpload(PeerTimeout):
    """An upload averaged less than ``min_rate`` bytes per second: its slot is freed."""

    reason = "slow-upload"


class UploadPace:
    """How long to wait for an upload's next bytes, and whether the rate or silence ends it.

    Sans-IO: the session adds what it waited and what it received. Silence is
    bounded by ``data_timeout`` per wait; the average by ``min_rate``: after
    ``waited`` seconds the client must have sent ``min_rate * waited`` bytes,
    judged only once ``data_timeout`` seconds have passed (a grace for a
    connection's slow start), and never more than the ``due`` bytes the
    upload still has to send. Only time spent waiting for the client counts:
    time the server spends on its own disk is not the client's slowness.
    """

    def __init__(self, *, data_timeout: float, min_rate: int, due: int) -> None:
        self.data_timeout = data_timeout
        self.min_rate = min_rate
        self.due = due
        self.received = 0
        self.waited = 0.0

    def next_wait(self) -> tuple[float, bool]:
        """Seconds the next wait may last, and True if the rate (not silence) sets it."""
        if not self.min_rate or self.received >= self.due:
            return self.data_timeout, False
        # The received bytes cover the rate until waited reaches received / min_rate.
        budget = max(self.data_timeout, self.received / self.min_rate) - self.waited
        if budget < self.data_timeout:  # on a tie silence wins: it is the plainer reason
            return max(budget, 0.0), True
        return self.data_timeout, False
