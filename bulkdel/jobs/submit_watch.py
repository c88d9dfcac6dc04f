"""Is a submitting job's submitter still running? Its sign of life, and what to say when
there is none.

A job in ``submitting`` with no submitter is left waiting for good: its submitter was
stopped, or Redis went back to an older snapshot after the submit had finished (the
snapshot says ``submitting``, and nothing in Redis can say otherwise). Either way the cure is
the same: run the same submit again; it goes on from what Redis holds. So the submitter
writes the Redis server's time every ``BEAT`` seconds while it runs (``scripts.SUBMIT_BEAT``),
and workers, ``job status`` and ``job report`` say so in one line once it is ``STALE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Final

from ..core.redis_connection import RedisWait
from ..core.stop import StopSignal
from . import redisio
from .redis_keys import JobKeys
from .scripts import SUBMIT_BEAT

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: seconds between two signs of life of a running submitter
BEAT: Final = 1.0
#: seconds without one after which the submit is said not to run (a few beats: a busy
#: host or a short Redis outage does not trip it)
STALE: Final = 6.0


def resubmit_command(job: str, sources: list[str] | None) -> str:
    """The command that runs a submit again: its files as given, else a placeholder."""
    given = shlex.join(sources) if sources else "<the same input>"
    return f"bulkdel job submit {given} --job {shlex.quote(job)}"


@contextlib.asynccontextmanager
async def beating(redis: Redis, keys: JobKeys, command: str) -> AsyncIterator[None]:
    """While the body runs, the submitter's sign of life every ``BEAT`` seconds (best
    effort: a Redis outage only delays it)."""
    script = redis.register_script(SUBMIT_BEAT)
    done = asyncio.Event()

    async def beat() -> None:
        # Never cancelled mid-command (a cancelled redis-py call can spoil its connection):
        # the loop ends between two beats.
        while not done.is_set():
            with contextlib.suppress(Exception):
                await script(keys=[keys.meta], args=[command])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), BEAT)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        done.set()
        await task


async def stalled_submit(redis: Redis, job: str) -> str | None:
    """One line saying that job ``job``'s submit must be run again (it is submitting and
    no submitter has been seen for ``STALE`` seconds), or None."""
    keys = JobKeys.of(job)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hmget(keys.meta, ["state", "submit_seen", "created", "resubmit"])
        pipe.time()
        (state, seen, created, command), (now, _) = await pipe.execute()
    if state != "submitting":
        return None
    last = float(seen or created or 0)
    ago = float(now) - last
    if ago <= STALE:
        return None
    command = command or resubmit_command(job, None)
    return (
        f"job {job}: its submit is not running (no sign of it for {ago:,.0f}s: stopped, or "
        f"Redis went back to an older snapshot after it finished); run `{command}` again: "
        "it goes on from what Redis holds"
    )


class SubmitWatch:
    """A worker's eye on its job's submitter: says once (again after one was seen anew)
    that the submit must be run again.

    Args:
        redis, keys: the job's.
        prefix: put before the line (who says it).
        say: where the line goes; a log warning if None.
    """

    def __init__(
        self, redis: Redis, keys: JobKeys, prefix: str, say: Callable[[str], None] | None
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.prefix = prefix
        self.say = say or redisio.log.warning
        self._said = False

    async def check(self, state: str, stop: StopSignal, wait: RedisWait) -> None:
        """Look now, if the job is ``submitting`` (there is nothing to take)."""
        if state != "submitting":
            return
        keys = self.keys
        note = await redisio.call(
            keys, lambda: stalled_submit(self.redis, keys.name), stop, wait=wait
        )
        if note is not None and not self._said:
            self.say(self.prefix + note)
        self._said = note is not None
