"""One consistent view of a job for its report (``scripts.SNAPSHOT``): its live state, where
its outcomes stop (a marker on the results), how many input records it had, and its open
batches, all taken in one step on the Redis server."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .redis_keys import GROUP, JobKeys
from .redisio import check_gone
from .scripts import SNAPSHOT
from .status import JobStatus, counts_from, per_worker, requests_from

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: seconds a report's copy of the open batches lives if the report dies before deleting it
COPY_KEPT_S: Final = 3600


@dataclass
class JobSnapshot:
    """The job at one moment.

    Attributes:
        status: counts, state, open batches and workers at that moment.
        marker: the last results entry at that moment: outcomes are read up to it.
        invalid_records, duplicate_records: the length of the invalid and duplicates lists
            (they only grow: later records belong to later reads).
        open_copy: the key of the copy of the open batches (with their consumer group), or
            None when none was open. Delete it once read (it expires anyway).
    """

    status: JobStatus
    marker: str
    invalid_records: int
    duplicate_records: int
    open_copy: str | None


async def take_snapshot(redis: Redis, keys: JobKeys) -> JobSnapshot:
    """Run ``SNAPSHOT`` on the job (its copy of the open batches kept ``COPY_KEPT_S``).

    Raises:
        JobGoneError: the job is not in Redis.
    """
    copy = keys.snapshot_copy(secrets.token_hex(8))
    answer: Any = await redis.register_script(SNAPSHOT)(
        keys=[
            keys.meta,
            keys.batches,
            keys.counts,
            keys.results,
            keys.workers,
            keys.invalid,
            keys.duplicates,
            copy,
        ],
        args=[GROUP, COPY_KEPT_S],
    )
    check_gone(keys, answer)
    marker, state, created, settled_at, counts, workers, open_batches, held = answer[:8]
    raw_counts = dict(zip(counts[::2], counts[1::2], strict=True))
    status = JobStatus(
        name=keys.name,
        state=str(state),
        counts=counts_from(raw_counts),
        requests=requests_from(raw_counts),
        open_batches=int(open_batches),
        in_flight=int(held),
        workers=per_worker(dict(zip(workers[::2], workers[1::2], strict=True))),
        elapsed_s=float(settled_at) - float(created) if settled_at and created else 0.0,
    )
    invalid, duplicates = answer[8:10]
    return JobSnapshot(
        status, str(marker), int(invalid), int(duplicates), copy if int(open_batches) else None
    )
