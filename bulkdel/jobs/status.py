"""A job's live state in Redis: counts, open batches, workers; and ``cancel``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..record.ledger import Counts
from .redis_keys import GROUP, JobKeys, gone

if TYPE_CHECKING:
    from redis.asyncio import Redis

_COUNT_FIELDS = (
    "read",
    "invalid",
    "duplicate",
    "unique",
    "deleted",
    "missing",
    "failed",
    "missing_after_retry",
)


@dataclass
class JobStatus:
    """A snapshot of one job.

    Attributes:
        name: the job.
        state: ``submitting``, ``submitted`` (the whole input is on the stream) or
            ``cancelled``.
        counts: the ledger's counts so far (ids not settled yet are pending).
        requests: requests sent, retried, and answers by status.
        open_batches: batches not settled yet (on the stream).
        in_flight: of those, batches a worker holds.
        workers: per worker: batches, deleted, missing, failed, late, requests, seen (the
            Redis server's time of its last sign of life, in seconds).
    """

    name: str
    state: str
    counts: Counts
    requests: dict[str, Any]
    open_batches: int
    in_flight: int
    workers: dict[str, dict[str, int]] = field(default_factory=dict)
    #: seconds from the job's creation to its last settle (Redis server time)
    elapsed_s: float = 0.0

    @property
    def finished(self) -> bool:
        """Submitted whole and every batch settled."""
        return self.state == "submitted" and self.open_batches == 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "job": self.name,
            "state": self.state,
            "finished": self.finished,
            "counts": {**self.counts.as_dict(), "pending": self.counts.pending},
            "requests": self.requests,
            "open_batches": self.open_batches,
            "in_flight": self.in_flight,
            "workers": self.workers,
            "elapsed_s": round(self.elapsed_s, 3),
        }


async def job_status(redis: Redis, job: str) -> JobStatus:
    """The job's state now.

    Raises:
        JobGoneError: the job is not in Redis.
    """
    keys = JobKeys.of(job)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hmget(keys.meta, ["state", "created", "settled_at"])
        pipe.hgetall(keys.counts)
        pipe.xlen(keys.batches)
        pipe.hgetall(keys.workers)
        (state, created, settled_at), raw, open_batches, workers = await pipe.execute()
    if state is None:
        raise gone(keys)
    in_flight = 0
    if open_batches:
        summary = await redis.xpending(keys.batches, GROUP)
        in_flight = int(summary["pending"])
    return JobStatus(
        name=job,
        state=str(state),
        counts=counts_from(raw),
        requests=requests_from(raw),
        open_batches=int(open_batches),
        in_flight=in_flight,
        workers=per_worker(workers),
        elapsed_s=float(settled_at) - float(created) if settled_at and created else 0.0,
    )


def counts_from(raw: dict[str, str]) -> Counts:
    """``Counts`` from the job's counts hash."""
    return Counts(**{name: int(raw.get(name, 0)) for name in _COUNT_FIELDS})


def requests_from(raw: dict[str, str]) -> dict[str, Any]:
    """Request figures (``RequestStats.as_dict`` shape) from the job's counts hash."""
    by_status = {k.removeprefix("status:"): int(v) for k, v in raw.items() if k[:7] == "status:"}
    return {
        "sent": int(raw.get("requests_sent", 0)),
        "retried": int(raw.get("requests_retried", 0)),
        "by_status": dict(sorted(by_status.items())),
    }


def per_worker(raw: dict[str, str]) -> dict[str, dict[str, int]]:
    """``{worker: {figure: n}}`` from the job's workers hash."""
    workers: dict[str, dict[str, int]] = {}
    for key, value in raw.items():
        name, _, figure = key.rpartition("|")
        workers.setdefault(name, {})[figure] = int(value)
    return dict(sorted(workers.items()))


async def cancel_job(redis: Redis, job: str) -> None:
    """Cancel the job: the submitter stops adding, workers take no new batch and finish the
    ones in hand; what is left is "not attempted" in the report.

    Raises:
        JobGoneError: the job is not in Redis.
    """
    keys = JobKeys.of(job)
    # Only an existing job is marked, so that a cancel cannot create an empty one.
    marked = await redis.eval(
        "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
        "redis.call('HSET', KEYS[1], 'state', 'cancelled') return 1",
        1,
        keys.meta,
    )
    if marked != 1:
        raise gone(keys)
