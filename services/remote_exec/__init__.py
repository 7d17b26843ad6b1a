"""netlab's remote exec service: run a command remotely, stream its output, leave no process.

``protocol`` is the sans-IO wire protocol (netlab mode), ``classic`` the
tutorial's length/ack/result exchange; ``runner`` and ``process`` run a
command as a process group with limits; ``server`` and ``client`` are the
Trio glue. See ``docs/reference/protocol/exec.md``.
"""
