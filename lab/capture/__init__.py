"""``lab capture``: a service's TCP traffic as a pcap file, and what it shows.

``sidecar.py`` runs tcpdump in a short-lived sidecar in the service's
network namespace; ``pcap.py`` reads a pcap file as TCP segments;
``summary.py`` (pure) turns segments into connections, handshakes, FINs and
RSTs, bytes each way and delayed ACKs; ``render.py`` prints that;
``cli.py`` is the command.
"""
