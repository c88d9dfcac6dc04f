"""What processing one batch gave, and the interface of whatever processes batches."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol

from ..ledger import RequestStats


@dataclass
class BatchOutcome:
    """The final bucket of every id of one batch.

    Attributes:
        deleted: ids the server deleted.
        missing: ids the server did not know (not after an ambiguous attempt).
        missing_after_retry: missing ids that an earlier attempt may have deleted.
        failed: ``(id, error, status, attempts)`` of ids given up on.
    """

    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    missing_after_retry: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, int | None, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.deleted) + len(self.missing) + len(self.missing_after_retry) + len(self.failed)
        )

    def failed_json(self) -> str:
        """The failures as the settle script takes them."""
        return json.dumps([list(f) for f in self.failed], ensure_ascii=True)


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
    def aborted(self) -> str | None:
        """Why the processor stopped for good (a fatal answer), or None."""
        ...
