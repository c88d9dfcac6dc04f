"""Helpers of the distributed-job tests: a Redis client per test and a stand-in processor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from bulkdel._engine.sources import Chunk
from bulkdel.jobs import BatchOutcome
from bulkdel.ledger import RequestStats


class StandIn:
    """A batch processor that deletes everything, optionally after a gate opens."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.requests = RequestStats()
        self.calls: list[tuple[list[str], bool]] = []
        self.gate = gate
        self.aborted: str | None = None
        self.started = asyncio.Event()
        self.missing: set[str] = set()

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome | None:
        self.calls.append((file_ids, in_flight_earlier))
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        self.requests.sent += 1
        self.requests.by_status["200"] += 1
        gone = [i for i in file_ids if i in self.missing]
        kept = [i for i in file_ids if i not in self.missing]
        if in_flight_earlier:
            return BatchOutcome(deleted=kept, missing_after_retry=gone)
        return BatchOutcome(deleted=kept, missing=gone)


def ids(count: int, start: int = 0) -> list[str]:
    """``count`` distinct 24-hex ids."""
    return [f"{n:024x}" for n in range(start, start + count)]


async def chunks(values: Iterable[str], size: int = 250) -> AsyncIterator[Chunk]:
    """``values`` as chunks of lines, like a file source."""
    items = [(n + 1, v, None if v.isalnum() else "bad") for n, v in enumerate(values)]
    for at in range(0, len(items), size):
        yield Chunk("ids.txt", items[at : at + size])
