"""The upload service: verified, atomic, resumable uploads and downloads.

``protocol`` (netlab mode) and ``classic`` (the tutorial's bytes) are sans-IO;
``storage`` owns the directory (staging, atomic commit, quota, expiry);
``server`` and its sessions are the Trio glue; ``client`` is the async library
behind ``netlab upload``.
"""
