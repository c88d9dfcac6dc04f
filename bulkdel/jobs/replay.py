"""Replay a job's record in Redis into a ``Ledger``, as a journal rebuild replays a journal:
the input records, then every settled outcome up to the snapshot's marker, then the batches
still open (held: outcome unknown; waiting: not attempted).

Outcomes stream through a page at a time. An id can be settled twice only when its batch was
delivered more than once (taken over, in flight earlier, or a batch Redis forgot and got
again); the settle script marks the ids of exactly those batches (``marks``). Only marked
ids are held in memory, to land once in their true bucket (deleted > missing after retry >
missing > failed > not attempted); every other id goes straight to the ledger.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..engine.batch_outcome import BatchOutcome
from ..models import INTERRUPTED_UNKNOWN
from ..record.ledger import Ledger
from .packing import decode_result
from .redis_keys import GROUP, JobKeys
from .snapshot import JobSnapshot

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: results entries read at a time (each holds up to a batch of ids)
_PAGE: Final = 200
#: list elements (a commit's records each) read at a time
_RECORDS_PAGE: Final = 100
#: rank of each bucket of a marked id: the lowest wins
_DELETED, _AFTER_RETRY, _MISSING, _FAILED, _NOT_ATTEMPTED = range(5)

Failure = tuple[str, str, int | None, int]


async def replay_job(redis: Redis, keys: JobKeys, snapshot: JobSnapshot, ledger: Ledger) -> int:
    """Hand every id of the job, as of ``snapshot``, to ``ledger`` once; returns the ids of
    batches a worker held (failed: outcome unknown)."""
    await _replay_input(redis, keys, snapshot, ledger)
    ledger.unique(snapshot.status.counts.unique)
    merged = _Merged(await _marked(redis, keys))
    async for outcome in _settled(redis, keys.results, snapshot.marker):
        merged.record(ledger, outcome)
    unknown = 0
    if snapshot.open_copy is not None:
        async for held, file_ids in _open_batches(redis, snapshot.open_copy):
            if held:
                merged.record(ledger, BatchOutcome(failed=[_unknown(i) for i in file_ids]))
                unknown += len(file_ids)
            else:
                merged.not_attempted(ledger, file_ids)
    merged.flush(ledger)
    return unknown


def _unknown(file_id: str) -> Failure:
    """A held batch's id: sent, maybe applied, never settled."""
    return (file_id, INTERRUPTED_UNKNOWN, None, 0)


async def _replay_input(redis: Redis, keys: JobKeys, snapshot: JobSnapshot, ledger: Ledger) -> None:
    """invalid.jsonl and duplicates.txt, as the submitter recorded them up to the snapshot."""
    async for blob in _list(redis, keys.invalid, snapshot.invalid_records):
        for line in blob.splitlines():
            record = json.loads(line)
            ledger.invalid(record["source"], record["line"], record["value"], record["reason"])
    async for blob in _list(redis, keys.duplicates, snapshot.duplicate_records):
        for file_id in blob.split():
            ledger.duplicate(file_id)


async def _list(redis: Redis, key: str, length: int) -> AsyncIterator[str]:
    """The first ``length`` elements of a list, a page at a time."""
    for start in range(0, length, _RECORDS_PAGE):
        end = min(start + _RECORDS_PAGE, length) - 1
        page: Any = await redis.lrange(key, start, end)
        for element in page:
            yield element


async def _marked(redis: Redis, keys: JobKeys) -> set[str]:
    """The ids of batches delivered more than once (the only ids that may be settled twice).

    Marks only grow: every mark set before the snapshot is read; one set after only sends
    its id through the merge.
    """
    marked: set[str] = set()
    async for file_id, _ in redis.hscan_iter(keys.marks, count=1000):
        marked.add(file_id)
    return marked


async def _settled(redis: Redis, key: str, end: str) -> AsyncIterator[BatchOutcome]:
    """The outcome each results entry up to ``end`` records, a page at a time (read as
    bytes: ids are packed, ``jobs.packing``)."""
    from redis.client import NEVER_DECODE

    # the client decodes replies; this one is read raw (redis-py's per-call option)
    command: Any = redis.execute_command
    start = "-"
    while True:
        page: Any = await command("XRANGE", key, start, end, "COUNT", _PAGE, **{NEVER_DECODE: True})
        for _, fields in page:
            yield decode_result(fields)
        if len(page) < _PAGE:
            return
        start = "(" + page[-1][0].decode()


async def _open_batches(redis: Redis, key: str) -> AsyncIterator[tuple[bool, list[str]]]:
    """Each open batch of the snapshot's copy: whether a worker held it, and its ids."""
    start = "-"
    while True:
        page: Any = await redis.xrange(key, start, "+", count=_PAGE)
        held: set[str] = set()
        if page:
            pending: Any = await redis.xpending_range(
                key, GROUP, page[0][0], page[-1][0], len(page)
            )
            held = {p["message_id"] for p in pending}
        for entry_id, fields in page:
            yield entry_id in held, fields.get("ids", "").split()
        if len(page) < _PAGE:
            return
        start = "(" + page[-1][0]


class _Merged:
    """The best bucket so far of each marked id; every other id goes to the ledger at once."""

    __slots__ = ("best", "marked")

    def __init__(self, marked: set[str]) -> None:
        #: ids of batches delivered more than once
        self.marked = marked
        #: marked id -> (rank, its failure record when its best bucket is failed)
        self.best: dict[str, tuple[int, Failure | None]] = {}

    def _keep(self, file_id: str, rank: int, failure: Failure | None = None) -> None:
        if rank < self.best.get(file_id, (_NOT_ATTEMPTED + 1, None))[0]:
            self.best[file_id] = (rank, failure)

    def _split(self, file_ids: Sequence[str], rank: int) -> list[str]:
        """The unmarked ids of ``file_ids``; the marked ones are kept at ``rank``."""
        if not self.marked:
            return list(file_ids)
        plain = []
        for file_id in file_ids:
            if file_id in self.marked:
                self._keep(file_id, rank)
            else:
                plain.append(file_id)
        return plain

    def record(self, ledger: Ledger, outcome: BatchOutcome) -> None:
        """One settled batch's outcome."""
        ledger.deleted(self._split(outcome.deleted, _DELETED))
        after = self._split(outcome.missing_after_retry, _AFTER_RETRY)
        ledger.missing([*self._split(outcome.missing, _MISSING), *after], after)
        for failure in outcome.failed:
            if failure[0] in self.marked:
                self._keep(failure[0], _FAILED, failure)
            else:
                ledger.failed(*failure)

    def not_attempted(self, ledger: Ledger, file_ids: Sequence[str]) -> None:
        """Ids of batches no worker took."""
        ledger.not_attempted(self._split(file_ids, _NOT_ATTEMPTED))

    def flush(self, ledger: Ledger) -> None:
        """Each marked id seen, once, in its best bucket."""
        buckets: list[list[str]] = [[] for _ in range(_NOT_ATTEMPTED + 1)]
        for file_id, (rank, failure) in self.best.items():
            if failure is not None:
                ledger.failed(*failure)
            else:
                buckets[rank].append(file_id)
        ledger.deleted(buckets[_DELETED])
        ledger.missing([*buckets[_MISSING], *buckets[_AFTER_RETRY]], buckets[_AFTER_RETRY])
        ledger.not_attempted(buckets[_NOT_ATTEMPTED])
        self.best.clear()
