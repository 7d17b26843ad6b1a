"""The chat server's own figures: the keys of its counters' ``extra``, and its error reasons.

Declared for ``docs/reference/stats.md`` (see :mod:`services.runtime.counters`);
a test checks them against the names the code counts.
"""

from __future__ import annotations

from services.runtime.counters import Figure

EXTRA = (
    Figure("messages_received", "messages said to a room or told privately (to a client or the "
           "operator) that the server accepted"),
    Figure("deliveries", "lines of messages queued for their recipients: one message said to a "
           "room of N others counts N"),
    Figure("slow_consumers", "clients disconnected because their outgoing queue was full "
           "(`--queue-size` lines)"),
    Figure("throttled", "lines a client sent faster than `--max-rate`, held back before they "
           "were handled"),
    Figure("console_lines", "lines the operator typed at the server's console"),
    Figure("console_dropped", "lines for the console (what classic clients say, private "
           "messages to the operator) dropped because the terminal did not keep up"),
)

ERROR_REASONS = ()
"""Chat counts errors under its protocol error codes only (and the shared reasons)."""
