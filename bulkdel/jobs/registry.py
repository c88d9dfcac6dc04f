"""The jobs a Redis holds: list them, keep them for a while, delete one.

Every job submitted is named in one registry set (``REGISTRY``); its keys share its hash tag
(``JobKeys.pattern`` matches them all, a report's copy of the open batches included). A name
whose metadata is gone (deleted, or expired after its retention) leaves the registry when a
listing or a fleet worker notices, as the last trace of the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .redis_keys import REGISTRY, JobKeys, gone
from .scripts import RETAIN
from .status import counts_from

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..record.ledger import Counts


@dataclass(frozen=True, slots=True)
class JobEntry:
    """One job of ``list_jobs``.

    Attributes:
        name: the job.
        state: ``submitting``, ``submitted``, ``finished`` (submitted whole, every batch
            settled) or ``cancelled``.
        counts: its live counts.
        age_s: seconds since it was created (Redis server time).
        expires_in_s: seconds until its keys expire (its retention), or None: kept until
            ``job delete``, or until ``keep_after_end_s`` after it ends.
        keep_after_end_s: its retention (``--keep``): how long its keys stay once it ends;
            None: kept until ``job delete``.
    """

    name: str
    state: str
    counts: Counts
    age_s: float
    expires_in_s: int | None
    keep_after_end_s: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "job": self.name,
            "state": self.state,
            "counts": {**self.counts.as_dict(), "pending": self.counts.pending},
            "age_s": round(self.age_s, 1),
            "expires_in_s": self.expires_in_s,
            "keep_after_end_s": self.keep_after_end_s,
        }


async def list_jobs(redis: Redis) -> list[JobEntry]:
    """Every job in the registry, by name; names whose job is gone leave the registry."""
    names = sorted(str(n) for n in await redis.smembers(REGISTRY))
    now, _ = await redis.time()
    found: list[JobEntry] = []
    vanished: list[str] = []
    for name in names:
        keys = JobKeys.of(name)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hmget(keys.meta, ["state", "created", "keep"])
            pipe.hgetall(keys.counts)
            pipe.xlen(keys.batches)
            pipe.ttl(keys.meta)
            (state, created, keep), raw, open_batches, ttl = await pipe.execute()
        if state is None:
            vanished.append(name)
            continue
        finished = state == "submitted" and not open_batches
        found.append(
            JobEntry(
                name=name,
                state="finished" if finished else str(state),
                counts=counts_from(raw),
                age_s=max(0.0, float(now) - float(created or now)),
                expires_in_s=int(ttl) if int(ttl) >= 0 else None,
                keep_after_end_s=int(keep) if keep else None,
            )
        )
    if vanished:
        await redis.srem(REGISTRY, *vanished)
    return found


async def delete_job(redis: Redis, job: str) -> int:
    """Delete every key of the job and its name in the registry (Redis is then as it was
    before the job); returns the keys deleted. Finished or not: callers check."""
    keys = JobKeys.of(job)
    found = [key async for key in redis.scan_iter(match=keys.pattern, count=1000)]
    await redis.srem(REGISTRY, job)
    deleted = 0
    for at in range(0, len(found), 500):
        deleted += int(await redis.delete(*found[at : at + 500]))
    return deleted


async def keep_job(redis: Redis, job: str, keep_s: int | None = None) -> int:
    """Set the job's retention to ``keep_s`` seconds after it finishes (None: unchanged),
    and start it if the job is finished (idempotent); returns the seconds left, 0 when
    not finished or kept for good.

    Raises:
        JobGoneError: the job is not in Redis.
    """
    keys = JobKeys.of(job)
    answer: Any = await redis.register_script(RETAIN)(
        keys=keys.all(), args=["" if keep_s is None else keep_s]
    )
    if answer == -1:
        raise gone(keys)
    return int(answer)
