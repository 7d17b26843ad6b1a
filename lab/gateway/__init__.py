"""The lab's gateway: forwards the learner ports published on 127.0.0.1 to the
servers on the internal network (``internal: true`` networks cannot publish
ports). The fault proxy will later sit at the same place on the path.
"""
