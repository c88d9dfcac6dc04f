"""Where a distributed job lives in Redis: its key names, and how to reach Redis.

Every key of one job carries the same ``{hash tag}`` so that a script's keys share a Redis
Cluster slot. The ``redis`` package is imported only here and only when a job is used, so the
single-process path needs no Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..errors import JobGoneError, UsageError

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: the consumer group every worker of a job reads through
GROUP: Final = "workers"
_NAME: Final = re.compile(r"[A-Za-z0-9_.:-]{1,80}")
#: what every "the job is gone" error says to do about it
PERSISTENCE_HINT: Final = (
    "was Redis restarted without persistence? Run Redis with `appendonly yes` so that a "
    "restart keeps jobs"
)


@dataclass(frozen=True, slots=True)
class JobKeys:
    """The Redis keys of job ``name``.

    Attributes:
        meta: hash: input fingerprint, state, submit position, batch size.
        batches: stream of unsettled batches (an entry is deleted once settled).
        counts: hash: the ledger's counts and request figures.
        results: stream: one entry a settle, the ids of each outcome.
        marks: hash: final state of ids of batches delivered more than once.
        invalid: list of invalid-input records (JSON).
        duplicates: list of repeated ids.
        workers: hash: ``WORKER|field`` -> per-worker figures.
    """

    name: str
    meta: str
    batches: str
    counts: str
    results: str
    marks: str
    invalid: str
    duplicates: str
    workers: str

    @classmethod
    def of(cls, name: str) -> JobKeys:
        """The keys of job ``name``.

        Raises:
            UsageError: the name is not 1-80 of ``A-Z a-z 0-9 _ . : -``.
        """
        if not _NAME.fullmatch(name):
            raise UsageError(f"job must be 1-80 of A-Z a-z 0-9 _ . : - (got {name!r})", "job")
        base = f"bulkdel:job:{{{name}}}:"
        return cls(name, *(base + part for part in _PARTS))

    def all(self) -> list[str]:
        """Every key of the job (to delete it)."""
        return [getattr(self, field) for field in _FIELDS]


_PARTS: Final = ("meta", "batches", "counts", "results", "marks", "invalid", "dups", "workers")
_FIELDS: Final = (
    "meta",
    "batches",
    "counts",
    "results",
    "marks",
    "invalid",
    "duplicates",
    "workers",
)


def connect(url: str, **options: Any) -> Redis:
    """An asyncio Redis client for ``url`` (decoded strings).

    Raises:
        UsageError: the ``redis`` package is not installed.
    """
    try:
        from redis.asyncio import Redis
    except ImportError:  # pragma: no cover - the test extra installs it
        raise UsageError(
            "distributed jobs need the redis package: pip install 'bulkdel[redis]'"
        ) from None
    client: Redis = Redis.from_url(url, decode_responses=True, **options)
    return client


def gone(keys: JobKeys) -> JobGoneError:
    """The error for a job whose keys are missing."""
    return JobGoneError(f"job {keys.name!r} is not in Redis (no job metadata); {PERSISTENCE_HINT}")
