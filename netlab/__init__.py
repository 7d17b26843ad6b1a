"""The ``netlab`` command (:mod:`netlab.cli`), above the servers (``services``) and ``lab``."""
