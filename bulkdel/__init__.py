"""bulkdel: purge files in bulk from an ImageKit media library."""

from __future__ import annotations

from .deleter import BulkDeleter, delete_files
from .errors import BulkdelError, FatalAPIError, InputError, JournalMismatchError, UsageError
from .imagekit import ImageKitClient
from .ledger import Counts, LedgerSink
from .models import FileError, Kind, Outcome, Settings
from .report import Report

__version__ = "0.1.0"

__all__ = [
    "BulkDeleter",
    "BulkdelError",
    "Counts",
    "FatalAPIError",
    "FileError",
    "ImageKitClient",
    "InputError",
    "JournalMismatchError",
    "Kind",
    "LedgerSink",
    "Outcome",
    "Report",
    "Settings",
    "UsageError",
    "__version__",
    "delete_files",
]
