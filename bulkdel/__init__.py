"""bulkdel: purge files in bulk from an ImageKit media library.

Everything a caller needs is exported here, including the types the public functions take
(``FileReader`` from ``open_files``, ``Listing`` over a ``Selection`` and a
``ListingClient``, a ``BatchSender`` for tests, a ``Clock``); modules whose names start with
``_`` are internal.
"""

from __future__ import annotations

from ._engine.clock import Clock
from ._engine.pager import Listing
from ._engine.pipeline import BatchSender
from ._engine.sources import FileReader, open_files
from .deleter import BulkDeleter, delete_files
from .errors import (
    BulkdelError,
    FatalAPIError,
    InputError,
    JournalMismatchError,
    ListingError,
    Stopped,
    UsageError,
)
from .imagekit import ImageKitClient, ListingClient
from .ledger import Counts, LedgerSink, RequestStats
from .models import Abort, AbortReason, FileError, Kind, Outcome, Settings
from .report import Report, Resumed
from .selection import Selection

__version__ = "0.1.0"

__all__ = [
    "Abort",
    "AbortReason",
    "BatchSender",
    "BulkDeleter",
    "BulkdelError",
    "Clock",
    "Counts",
    "FatalAPIError",
    "FileError",
    "FileReader",
    "ImageKitClient",
    "InputError",
    "JournalMismatchError",
    "Kind",
    "LedgerSink",
    "Listing",
    "ListingClient",
    "ListingError",
    "Outcome",
    "Report",
    "RequestStats",
    "Resumed",
    "Selection",
    "Settings",
    "Stopped",
    "UsageError",
    "__version__",
    "delete_files",
    "open_files",
]
