"""The exception tree of bulkdel.

::

    BulkdelError                 root: catch this to catch everything bulkdel raises
    ├── UsageError               bad option or settings; nothing was sent (CLI exit 2)
    │   └── InputError           a source cannot be read or parsed as a whole (CLI exit 2)
    │       └── JournalMismatchError  a journal belongs to another input
    └── FatalAPIError            the API said stop: 401/403, or a 404 not about files (exit 3)

Retryable conditions (5xx, timeouts, resets, 429) are never raised: the client returns them as
outcome values and the retry policy decides. No message ever contains the private key.
"""

from __future__ import annotations


class BulkdelError(Exception):
    """Root of every error bulkdel raises."""


class UsageError(BulkdelError):
    """A setting or option is wrong; the message names it and the fix."""


class InputError(UsageError):
    """A source cannot be opened or does not have the expected shape."""


class JournalMismatchError(InputError):
    """The journal was written for a different input or different settings."""


class FatalAPIError(BulkdelError):
    """The API answered in a way that makes going on pointless or dangerous.

    Attributes:
        status: the HTTP status that caused the abort.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
