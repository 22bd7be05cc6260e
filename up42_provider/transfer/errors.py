"""Exceptions of the transfer engine.

Separate from :mod:`up42_provider.api.errors`: a signed-URL download talks to cloud storage, not
to the UP42 API, so there is no UP42 status/method/path to report. Messages never contain a
signed URL's query string (the signature is a credential).
"""

from __future__ import annotations


class TransferError(Exception):
    """A download, upload or extraction that failed for good (after its retries)."""


class DownloadError(TransferError):
    """The bytes could not be fetched. ``status`` is the last HTTP status (None: no answer)."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class IntegrityError(DownloadError):
    """The bytes arrived but their size or MD5 does not match what the server announced."""


class ArchiveError(TransferError, ValueError):
    """Not an archive we can unpack (``ValueError`` like the SDK's, for callers catching that)."""


class UnsafeArchiveError(ArchiveError):
    """The archive tries to escape its destination, holds device files, or exceeds the limits."""
