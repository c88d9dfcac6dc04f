"""Where a distributed job lives in Redis: its key names.

Every key of one job carries the same ``{hash tag}`` so that a script's keys share a Redis
Cluster slot. Reaching Redis is ``bulkdel.core.redis_connection``'s (``connect``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ..errors import JobGoneError, UsageError

#: the consumer group every worker of a job reads through
GROUP: Final = "workers"
#: set: the name of every job submitted to this Redis (a fleet worker serves the open ones)
REGISTRY: Final = "bulkdel:jobs"
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
        results: stream: one entry a settle, its ids packed in bucket order
            (``jobs.packing``).
        marks: hash: final state of ids of batches delivered more than once.
        invalid: list of invalid-input records (JSON).
        duplicates: list of repeated ids.
        manifest: list of file records (JSONL blobs), each pushed with the first batch that
            may delete its file (``job report`` writes them to ``manifest.jsonl``).
        workers: hash: ``WORKER|field`` -> per-worker figures.
        settled: hash: entry id -> the worker whose settle recorded it (a settle run twice,
            or of a batch Redis forgot, is told apart by it).
    """

    name: str
    meta: str
    batches: str
    counts: str
    results: str
    marks: str
    invalid: str
    duplicates: str
    manifest: str
    workers: str
    settled: str

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
        """Every key of the job with a fixed name (``pattern`` matches these and the rest)."""
        return [getattr(self, field) for field in _FIELDS]

    def settle_keys(self) -> list[str]:
        """The keys ``scripts.SETTLE`` takes, in its order (the last three are optional)."""
        fixed = ("meta", "batches", "counts", "results", "marks", "workers", "settled")
        return [getattr(self, field) for field in (*fixed, "invalid", "duplicates", "manifest")]

    def snapshot_copy(self, token: str) -> str:
        """The key of a report's copy of the open batches (one a report: ``token``)."""
        return self.base + "snapshot:" + token

    @property
    def base(self) -> str:
        """What every key of the job starts with."""
        return self.meta.removesuffix("meta")

    @property
    def pattern(self) -> str:
        """A ``SCAN MATCH`` pattern for every key of the job (no name character is a glob
        character)."""
        return self.base + "*"


_PARTS: Final = (
    "meta",
    "batches",
    "counts",
    "results",
    "marks",
    "invalid",
    "dups",
    "manifest",
    "workers",
    "settled",
)
_FIELDS: Final = (
    "meta",
    "batches",
    "counts",
    "results",
    "marks",
    "invalid",
    "duplicates",
    "manifest",
    "workers",
    "settled",
)


def gone(keys: JobKeys) -> JobGoneError:
    """The error for a job whose keys are missing."""
    return JobGoneError(f"job {keys.name!r} is not in Redis (no job metadata); {PERSISTENCE_HINT}")
