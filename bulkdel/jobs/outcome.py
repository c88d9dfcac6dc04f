"""What processing one batch gave (``bulkdel.engine.batch.BatchOutcome``, the one outcome type of a
batch, re-exported here), and the interface of whatever processes batches."""

from __future__ import annotations

from typing import Protocol

from ..engine.batch import BatchOutcome
from ..models import Abort
from ..record.ledger import RequestStats

__all__ = ["BatchOutcome", "BatchProcessor"]


class BatchProcessor(Protocol):
    """Sends batches and classifies the answers (the pipeline, or a test's stand-in).

    ``requests`` holds the figures of every request sent so far.
    """

    requests: RequestStats

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome | None:
        """Send one batch until every id has its final bucket.

        Args:
            file_ids: the batch.
            in_flight_earlier: another worker may have sent it (a 404 for its ids then
                counts as missing after retry).

        Returns:
            The outcome, or None when the processor stopped before every id had one (the
            batch then stays pending, for another worker).
        """
        ...

    @property
    def abort(self) -> Abort | None:
        """Why the processor stopped for good (a fatal answer), or None."""
        ...

    def stop(self, reason: str) -> None:
        """Start no new batch (the worker is stopping, or Redis cannot be used): batches
        begun finish, the others resolve to None unsent."""
        ...
