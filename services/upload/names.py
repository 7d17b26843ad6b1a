"""File names a client may use: one path component, printable, bounded.

Why so strict: a name arrives from the network and becomes a path. The
tutorial's server joins it to the upload directory as is, so ``../x`` or
``/etc/passwd`` escape it. Here a name must be a single, visible component:

* 1 to 255 bytes of UTF-8 (Linux's ``NAME_MAX``), normalized to NFC so that
  a name typed on macOS (NFD) and on Linux (NFC) is the same file;
* no ``/``, ``\\``, NUL, no control, format, surrogate, private-use or
  unassigned characters, no line or paragraph separators (they forge log
  lines and terminal output: think U+202E RIGHT-TO-LEFT OVERRIDE);
* no leading ``.`` (hidden files, ``.`` and ``..``, and the server's own
  staging area ``.netlab-partial``), no leading or trailing white space.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_BYTES = 255
# Unicode general categories refused anywhere in a name.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
SEPARATORS = frozenset("/\\")


class BadName(ValueError):
    """A name that cannot be stored; the message says why (it goes on the wire)."""


def clean_name(name: str) -> str:
    """Return the stored form of ``name`` (NFC), or raise :class:`BadName`."""
    if not name:
        raise BadName("name is empty")
    try:
        raw_len = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadName("name is not valid Unicode (lone surrogate)") from None
    # Bounded before normalizing: NFC may grow a string, and a huge input
    # should not cost anything.
    if raw_len > 4 * MAX_NAME_BYTES:
        raise BadName(f"name longer than {MAX_NAME_BYTES} bytes")
    for char in name:
        if char in SEPARATORS:
            raise BadName(f"name contains a path separator {char!r}")
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            raise BadName(f"name contains a control or invisible character U+{ord(char):04X}")
    name = unicodedata.normalize("NFC", name)
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadName(f"name longer than {MAX_NAME_BYTES} bytes")
    if name.startswith("."):
        raise BadName("name starts with '.' (hidden names, '.' and '..' are refused)")
    if name != name.strip():
        raise BadName("name starts or ends with white space")
    return name


def is_clean(name: str) -> bool:
    """True if ``name`` is already in stored form (listing skips everything else)."""
    try:
        return clean_name(name) == name
    except BadName:
        return False
