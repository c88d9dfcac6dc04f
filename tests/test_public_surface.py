"""What a caller imports and reads back: the errors bulkdel raises are exported, the test seams
are not, and a batch's outcome names its ids as the report files do."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import bulkdel
from bulkdel import BatchOutcome


@pytest.mark.parametrize("name", ["JobGoneError", "RedisError", "RedisUnavailableError"])
def test_every_error_a_job_raises_is_exported(name: str) -> None:
    """Raised by the job API, exported with the rest (they were not)."""
    error = getattr(bulkdel, name)
    assert issubclass(error, bulkdel.BulkdelError) and name in bulkdel.__all__


def test_an_outcome_names_failed_ids_as_failed_jsonl_does() -> None:
    """``failed`` entries say ``fileId``, as ``failed.jsonl`` does (they said ``file_id``),
    and an outcome written by an earlier release still reads back."""
    outcome = BatchOutcome(deleted=["a" * 24], failed=[("b" * 24, "File is locked.", 207, 6)])
    data = outcome.to_dict()
    assert data["failed"] == [
        {"fileId": "b" * 24, "error": "File is locked.", "status": 207, "attempts": 6}
    ]
    assert BatchOutcome.from_json(outcome.to_json()) == outcome
    older = {**data, "failed": [{**data["failed"][0], "file_id": "b" * 24}]}
    del older["failed"][0]["fileId"]
    assert BatchOutcome.from_dict(older) == outcome
    with pytest.raises(ValueError, match="not a BatchOutcome"):
        BatchOutcome.from_dict({**data, "failed": [{"error": "x", "status": 1, "attempts": 1}]})


#: the documented API: what the README, docs/contract.md and the API reference show a caller
API = {
    "Abort",
    "AbortReason",
    "BatchOutcome",
    "BulkDeleter",
    "BulkdelError",
    "Counts",
    "FatalAPIError",
    "FileError",
    "FileReader",
    "DeleteClient",
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
}
#: internals that ``__all__`` exported beside the API, and where they live
INTERNALS = {
    "BatchSender": "bulkdel.engine.runner",
    "Clock": "bulkdel.core",
    "LoopClock": "bulkdel.core",
    "StopSignal": "bulkdel.core",
    "StandaloneHost": "bulkdel.listing.host",
}


def test_all_is_the_documented_api() -> None:
    """``__all__`` (and ``dir``) is the documented API, each name resolving."""
    assert set(bulkdel.__all__) == API
    assert sorted(bulkdel.__all__) == bulkdel.__all__ == dir(bulkdel)
    for name in API:
        getattr(bulkdel, name)


@pytest.mark.parametrize(("name", "module"), sorted(INTERNALS.items()))
def test_internals_live_in_their_modules_only(name: str, module: str) -> None:
    """A test seam is imported from its module; ``bulkdel`` has no such attribute."""
    assert getattr(importlib.import_module(module), name)
    assert name not in bulkdel.__all__
    with pytest.raises(AttributeError):
        getattr(bulkdel, name)


def test_a_star_import_takes_the_api_only() -> None:
    """``from bulkdel import *`` in a fresh interpreter binds the API and no internal."""
    code = (
        "from bulkdel import *; g = dict(globals()); "
        "print(sorted(k for k in g if not k.startswith('_') or k == '__version__'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert set(eval(out)) == API


def test_the_delete_clients_old_name_still_imports() -> None:
    """``ImageKitClient`` is ``DeleteClient``'s name from before it said which endpoint it
    serves: a caller's import keeps working, and it is not offered in ``__all__``."""
    from bulkdel import DeleteClient, ImageKitClient
    from bulkdel.imagekit import ImageKitClient as from_the_room

    assert ImageKitClient is DeleteClient is from_the_room
    assert "ImageKitClient" not in bulkdel.__all__
