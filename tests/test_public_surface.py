"""What a caller imports and reads back: the errors bulkdel raises are exported, and a batch's
outcome names its ids as the report files do."""

from __future__ import annotations

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
