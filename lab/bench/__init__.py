"""``lab bench``: netlab's servers measured against baselines started in the same run.

``figures`` (a figure, its baselines, its ratios, the run's record and table),
``context`` (the lab a bench runs on: baseline servers and load programs in
containers of the lab network), ``sampler`` (the host's load during the run),
``cli`` (``lab bench`` and the in-container ``lab bench-load``), ``pyspy``
(``--profile``: py-spy recording netlab's server under each load) and
``profiles`` (where its time went, from the collapsed stacks); one module per
section (``upload``, ``exec``, ``chat``, ``scale``) with its load program
(``*_load``), and ``baselines/`` (the servers netlab is compared with).
"""
