"""The upload server's own figures: the keys of its counters' ``extra``, and its error reasons.

Declared for ``docs/reference/stats.md`` (see :mod:`services.runtime.counters`);
a test checks them against the names the code counts.
"""

from __future__ import annotations

from services.runtime.counters import Figure

EXTRA = (
    Figure("files_stored", "uploads verified, synced and visible under their name (both modes)"),
    Figure("classic_files_stored", "the part of `files_stored` that classic (tutorial) clients "
           "uploaded"),
    Figure("bytes_stored", "the sizes of the files stored, added up"),
    Figure("resumes", "PUTs that resumed an interrupted upload (READY with an offset above 0)"),
    Figure("uploads_refused", "PUTs (and classic headers) refused before any byte was taken: "
           "a bad name, too large, over the quota, no space, exists, busy, shutting down"),
    Figure("classic_refused_{code}", "classic uploads refused (answered `false`), by the "
           "refusal's error code with `_` for `-` (`classic_refused_exists`...)"),
    Figure("uploads_failed", "uploads received whole but not stored: the digest or the size "
           "did not match"),
    Figure("uploads_cut_by_shutdown", "uploads whose receiving the shutdown cut short (their "
           "bytes kept for a resume)"),
    Figure("partials_removed_disk_full", "interrupted uploads deleted, not kept for a resume, "
           "because the disk was full"),
    Figure("partials_expired", "interrupted uploads deleted after `--partial-ttl` seconds "
           "without a resume"),
    Figure("downloads", "GETs whose file was sent whole"),
    Figure("downloads_refused_busy", "GETs refused with `busy`: the transfer memory stayed "
           "taken for `--memory-wait` seconds"),
    Figure("transfer_buffered_bytes", "bytes the downloads hold in buffers now (bounded by "
           "`--transfer-memory`)", kind="gauge"),
    Figure("transfer_buffered_bytes_peak", "the most `transfer_buffered_bytes` has been since "
           "the server started", kind="gauge"),
    Figure("classic_glued_header", "classic headers that came in one segment with file bytes "
           "after them"),
)

ERROR_REASONS = (
    Figure("staging-replaced", "at start, the staging folder was not a directory (a link?) and "
           "was replaced, nothing it pointed to touched"),
)
"""Besides upload's protocol error codes (and the shared reasons)."""
