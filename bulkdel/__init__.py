"""bulkdel: purge files in bulk from an ImageKit media library."""

from __future__ import annotations

from .client import ImageKitClient
from .errors import BulkdelError, FatalAPIError, InputError, JournalMismatchError, UsageError
from .models import FileError, Kind, Outcome, Settings

__version__ = "0.1.0"

__all__ = [
    "BulkdelError",
    "FatalAPIError",
    "FileError",
    "ImageKitClient",
    "InputError",
    "JournalMismatchError",
    "Kind",
    "Outcome",
    "Settings",
    "UsageError",
    "__version__",
]
