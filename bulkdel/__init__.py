"""bulkdel: purge files in bulk from an ImageKit media library.

Everything a caller needs is exported here, including the types the public functions take
and give (``FileReader`` from ``open_files``, ``Listing`` over a ``Selection`` and a
``ListingClient``, the ``Report`` and its parts). Test seams stay in their modules: the
``Clock`` a run takes in ``bulkdel.core`` (with ``StopSignal`` and ``LoopClock``), the
``BatchSender`` a ``BulkDeleter`` may send through in ``bulkdel._engine.runner``. Modules
whose names start with ``_`` are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.lazy import lazy_getattr

if TYPE_CHECKING:
    from ._engine.pager import Listing
    from ._engine.sources import FileReader, open_files
    from .batch import BatchOutcome, delete_batch
    from .deleter import BulkDeleter, delete_files
    from .errors import (
        BulkdelError,
        FatalAPIError,
        InputError,
        JobGoneError,
        JournalMismatchError,
        ListingError,
        QueryRefusedError,
        RedisError,
        RedisUnavailableError,
        Stopped,
        UnreachableError,
        UsageError,
    )
    from .imagekit import ImageKitClient, ListingClient, PurgeClient
    from .ledger import Counts, LedgerSink, RequestStats
    from .models import Abort, AbortReason, FileError, Kind, Outcome, Settings
    from .preflight import preflight
    from .purging import PurgeRecord, PurgeResult, folder_purge_url, purge_urls
    from .report import Report, Resumed
    from .selection import ResolvedSelection, Selection

__version__ = "0.1.0"

#: where each export lives: imported on first use, so that ``bulkdel --version`` and the
#: fake server do not pay for aiohttp, numpy and the engine (start-up is a third of a
#: 200,000-id run)
_LAZY: dict[str, str] = {
    "Abort": ".models",
    "AbortReason": ".models",
    "BatchOutcome": ".batch",
    "BulkDeleter": ".deleter",
    "BulkdelError": ".errors",
    "Counts": ".ledger",
    "FatalAPIError": ".errors",
    "FileError": ".models",
    "FileReader": "._engine.sources",
    "ImageKitClient": ".imagekit",
    "InputError": ".errors",
    "JobGoneError": ".errors",
    "JournalMismatchError": ".errors",
    "Kind": ".models",
    "LedgerSink": ".ledger",
    "Listing": "._engine.pager",
    "ListingClient": ".imagekit",
    "ListingError": ".errors",
    "Outcome": ".models",
    "PurgeClient": ".imagekit",
    "PurgeRecord": ".purging",
    "PurgeResult": ".purging",
    "QueryRefusedError": ".errors",
    "RedisError": ".errors",
    "RedisUnavailableError": ".errors",
    "Report": ".report",
    "RequestStats": ".ledger",
    "ResolvedSelection": ".selection",
    "Resumed": ".report",
    "Selection": ".selection",
    "Settings": ".models",
    "Stopped": ".errors",
    "UnreachableError": ".errors",
    "UsageError": ".errors",
    "delete_batch": ".batch",
    "delete_files": ".deleter",
    "folder_purge_url": ".purging",
    "open_files": "._engine.sources",
    "preflight": ".preflight",
    "purge_urls": ".purging",
}


#: coroutine functions a service may first look up inside its event loop: their modules are
#: then imported in a thread (``core.lazy``), not on the loop
_OFF_LOOP = frozenset({"delete_batch", "delete_files"})

__getattr__ = lazy_getattr(__name__, _LAZY, globals(), off_loop=_OFF_LOOP)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Abort",
    "AbortReason",
    "BatchOutcome",
    "BulkDeleter",
    "BulkdelError",
    "Counts",
    "FatalAPIError",
    "FileError",
    "FileReader",
    "ImageKitClient",
    "InputError",
    "JobGoneError",
    "JournalMismatchError",
    "Kind",
    "LedgerSink",
    "Listing",
    "ListingClient",
    "ListingError",
    "Outcome",
    "PurgeClient",
    "PurgeRecord",
    "PurgeResult",
    "QueryRefusedError",
    "RedisError",
    "RedisUnavailableError",
    "Report",
    "RequestStats",
    "ResolvedSelection",
    "Resumed",
    "Selection",
    "Settings",
    "Stopped",
    "UnreachableError",
    "UsageError",
    "__version__",
    "delete_batch",
    "delete_files",
    "folder_purge_url",
    "open_files",
    "preflight",
    "purge_urls",
]
