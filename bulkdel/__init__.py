"""bulkdel: purge files in bulk from an ImageKit media library.

Everything a caller needs is exported here, including the types the public functions take
and give (``FileReader`` from ``open_files``, ``Listing`` over a ``Selection`` and a
``ListingClient``, the ``Report`` and its parts). Test seams stay in their modules: the
``Clock`` a run takes in ``bulkdel.core`` (with ``StopSignal`` and ``LoopClock``), the
``BatchSender`` a ``BulkDeleter`` may send through in ``bulkdel.engine.runner``. Modules
whose names start with ``_`` are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.lazy import lazy_getattr

if TYPE_CHECKING:
    from .delete.batch import BatchOutcome, delete_batch
    from .delete.deleter import BulkDeleter, delete_files
    from .delete.preflight import preflight
    from .engine.sources import FileReader, open_files
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
    from .imagekit import DeleteClient, ListingClient, PurgeClient
    from .imagekit import ImageKitClient as ImageKitClient  # the old name, not in __all__
    from .listing.pager import Listing
    from .listing.selection import ResolvedSelection, Selection
    from .models import Abort, AbortReason, FileError, Kind, Outcome, Settings
    from .purge.cache import PurgeRecord, PurgeResult, folder_purge_url, purge_urls
    from .record.ledger import Counts, LedgerSink, RequestStats
    from .record.report import Report, Resumed

__version__ = "0.1.0"

#: where each export lives: imported on first use, so that ``bulkdel --version`` and the
#: fake server do not pay for aiohttp, numpy and the engine (start-up is a third of a
#: 200,000-id run)
_LAZY: dict[str, str] = {
    "Abort": ".models",
    "AbortReason": ".models",
    "BatchOutcome": ".delete.batch",
    "BulkDeleter": ".delete.deleter",
    "BulkdelError": ".errors",
    "Counts": ".record.ledger",
    "FatalAPIError": ".errors",
    "FileError": ".models",
    "FileReader": ".engine.sources",
    "DeleteClient": ".imagekit",
    "ImageKitClient": ".imagekit",
    "InputError": ".errors",
    "JobGoneError": ".errors",
    "JournalMismatchError": ".errors",
    "Kind": ".models",
    "LedgerSink": ".record.ledger",
    "Listing": ".listing.pager",
    "ListingClient": ".imagekit",
    "ListingError": ".errors",
    "Outcome": ".models",
    "PurgeClient": ".imagekit",
    "PurgeRecord": ".purge.cache",
    "PurgeResult": ".purge.cache",
    "QueryRefusedError": ".errors",
    "RedisError": ".errors",
    "RedisUnavailableError": ".errors",
    "Report": ".record.report",
    "RequestStats": ".record.ledger",
    "ResolvedSelection": ".listing.selection",
    "Resumed": ".record.report",
    "Selection": ".listing.selection",
    "Settings": ".models",
    "Stopped": ".errors",
    "UnreachableError": ".errors",
    "UsageError": ".errors",
    "delete_batch": ".delete.batch",
    "delete_files": ".delete.deleter",
    "folder_purge_url": ".purge.cache",
    "open_files": ".engine.sources",
    "preflight": ".delete.preflight",
    "purge_urls": ".purge.cache",
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
    "DeleteClient",
    "FatalAPIError",
    "FileError",
    "FileReader",
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
