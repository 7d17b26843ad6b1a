"""The exec server's own figures: the keys of its counters' ``extra``, and its error reasons.

Declared for ``docs/reference/stats.md`` (see :mod:`services.runtime.counters`);
a test checks them against the names the code counts.
"""

from __future__ import annotations

from services.remote_exec.outcome import Stop
from services.runtime.counters import Figure

EXTRA = (
    Figure("netlab_connections", "connections that sent the netlab preface"),
    Figure("classic_connections", "connections of tutorial (classic) clients"),
    Figure("auth_failed", "RUNs with a wrong or missing token (each ends its connection)"),
    Figure("auth_throttled", "RUNs refused because their address sent too many wrong tokens "
           "(`--auth-max-failures`)"),
    Figure("commands_queued", "commands that waited in line for a slot (QUEUED sent)"),
    Figure("commands_refused", "commands refused before they started: empty or with a NUL "
           "byte, no slot in time, or (classic) over the memory budget"),
    Figure("refused_busy", "commands refused because no slot freed within `--queue-timeout` "
           "or the line was full (`--max-queued`)"),
    Figure("refused_classic_memory", "classic commands refused because classic answers held "
           "`--classic-memory` bytes"),
    Figure("commands_cancelled_queued", "commands cancelled (CANCEL) while waiting for a slot"),
    Figure("commands_started", "commands whose shell started"),
    Figure("spawn_failed", "commands whose shell could not be started"),
    Figure("standby_taken", "commands started in the shell kept ready ahead of time (the "
           "sandbox's uid switch off the round trip)"),
    Figure("commands_finished", "started commands that ended and were reported (EXIT, or a "
           "classic answer)"),
    Figure("ended_{stop}", "finished commands, by why they ended: `exited` on their own; the "
           "others netlab killed (`cancelled`: by CANCEL, `disconnected`: the client left)",
           values=tuple(stop.value for stop in Stop)),
    Figure("ended_aborted", "commands killed because their connection itself failed (not "
           "counted in `commands_finished`)"),
    Figure("commands_killed", "commands netlab killed: every ending but `exited`, and aborted "
           "ones"),
    Figure("output_bytes", "bytes of stdout and stderr the finished commands printed"),
    Figure("classic_commands", "commands classic clients sent"),
    Figure("classic_refused", "classic clients refused because classic mode is off "
           "(`--no-classic`)"),
    Figure("classic_ack_timeout", "classic answers whose `ok` did not come within "
           "`--classic-ack-timeout` (the connection is closed)"),
    Figure("classic_memory_kills", "classic commands killed because classic answers used up "
           "`--classic-memory`"),
    Figure("classic_glued_ack", "classic acks that came in one segment with the next command"),
    Figure("classic_unexpected_bytes", "receives of bytes a classic client sent while its "
           "command ran (classic mode cannot tell what they mean; they are dropped)"),
)

ERROR_REASONS = (
    Figure("auth-throttled", "a RUN refused because its address sent too many wrong tokens"),
    Figure("classic-ack-timeout", "a classic client did not ack an answer's length in time"),
    Figure("classic-memory", "a classic command refused or killed for the classic memory "
           "budget"),
)
"""Besides exec's protocol error codes (and the shared reasons)."""
