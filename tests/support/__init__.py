"""What the tests share: servers started in-process, raw peers, waits, segmentations, docs blocks.

Test modules import from here (and only here) for anything they do not define
themselves; no test module imports another.
"""
