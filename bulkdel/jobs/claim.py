"""A worker's side of the job's consumer group: new batches, batches of dead workers, its own
batches kept (the heartbeat) and unsent ones given back."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..core.stop import StopSignal
from ..redis_connection import RedisWait
from . import redisio
from .redis_keys import GROUP, JobKeys
from .scripts import HEARTBEAT, RELEASE, TAKE, TAKEOVER

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: idle time a given-back batch gets: past any worker's visibility timeout (ten days, ms)
_GIVEN_BACK_IDLE: Final = 864_000_000

Entry = tuple[str, dict[str, str]]


class JobCancelled(Exception):
    """The job is cancelled: a take found it so and took nothing."""


def _check(keys: JobKeys, answer: Any) -> None:
    redisio.check_gone(keys, answer)
    if answer and answer[0] == -2:
        raise JobCancelled(keys.name)


def _entry(raw: Any) -> Entry:
    """A stream entry as a script returns it: ``[id, [field, value, ...]]``."""
    entry_id, flat = raw
    return str(entry_id), dict(zip(flat[::2], flat[1::2], strict=True))


class Claims:
    """Takes and keeps batches for worker ``name``.

    Args:
        redis: the client.
        keys: the job's keys.
        name: the worker's consumer name.
        visibility_timeout: seconds a batch may go without its worker's heartbeat.
        wait: how to wait for Redis (the worker's).
    """

    def __init__(
        self,
        redis: Redis,
        keys: JobKeys,
        name: str,
        visibility_timeout: float,
        wait: RedisWait,
    ) -> None:
        self.redis = redis
        self.wait = wait
        self.keys = keys
        self.name = name
        self.min_idle_ms = int(visibility_timeout * 1000)
        self._heartbeat = redis.register_script(HEARTBEAT)
        self._release = redis.register_script(RELEASE)
        self._take_script = redis.register_script(TAKE)
        self._takeover = redis.register_script(TAKEOVER)
        self._cursor = "0-0"

    async def arrival(
        self, every: float, stop: StopSignal, on_wait: Callable[[], None] | None
    ) -> None:
        """Until the job has metadata in Redis (its submit created it), looking every
        ``every`` seconds; ``on_wait`` is called once if it has none yet.

        Raises:
            Stopped: ``stop`` was set while waiting.
        """
        keys = self.keys
        said = False
        while not await redisio.call(
            keys, lambda: self.redis.exists(keys.meta), stop, wait=self.wait
        ):
            if not said and on_wait is not None:
                on_wait()
            said = True
            await stop.sleep(every)

    async def read(self, count: int, block: float, stop: StopSignal) -> list[Entry]:
        """New batches (``scripts.TAKE``), waiting up to ``block`` seconds for one.

        Raises:
            JobCancelled: the job is cancelled: nothing was taken.
        """
        last, entries = await self._take(count, stop)
        if entries or block <= 0:
            return entries
        keys = self.keys
        # The wait is outside the script (a script cannot block): for an entry after the
        # last one there was, then a take again, with its state check.
        arrived = await redisio.call(
            keys,
            lambda: self.redis.xread(
                {keys.batches: last}, count=1, block=max(1, int(block * 1000))
            ),
            stop,
            wait=self.wait,
        )
        return (await self._take(count, stop))[1] if arrived else []

    async def _take(self, count: int, stop: StopSignal) -> tuple[str, list[Entry]]:
        keys = self.keys
        answer: Any = await redisio.call(
            keys,
            lambda: self._take_script(
                keys=[keys.meta, keys.batches], args=[GROUP, self.name, count]
            ),
            stop,
            wait=self.wait,
        )
        _check(keys, answer)
        return str(answer[1]), [_entry(e) for e in answer[2:]]

    async def take_over(self, count: int, held: set[str], stop: StopSignal) -> list[Entry]:
        """Batches idle longer than the visibility timeout (``scripts.TAKEOVER``): their
        worker is gone, or stopped and gave them back.

        Raises:
            JobCancelled: the job is cancelled: nothing was taken.
        """
        keys = self.keys
        args: list[str | int] = [GROUP, self.name, self.min_idle_ms, self._cursor, count]
        answer: Any = await redisio.call(
            keys,
            lambda: self._takeover(keys=[keys.meta, keys.batches], args=args),
            stop,
            wait=self.wait,
        )
        _check(keys, answer)
        self._cursor = str(answer[1])
        # An entry of our own comes back only if our heartbeat could not reach Redis: it is
        # still being worked on here.
        return [(i, f) for i, f in map(_entry, answer[2:]) if i not in held]

    async def heartbeat(self, held: set[str], stop: StopSignal) -> str:
        """Reset the idle time of our batches (``XCLAIM ... JUSTID``: their delivery count
        stays); returns the job's state."""
        keys = self.keys
        args = [GROUP, self.name, *sorted(held)]
        answer = await redisio.call(
            keys,
            lambda: self._heartbeat(keys=[keys.meta, keys.batches, keys.workers], args=args),
            stop,
            wait=self.wait,
        )
        redisio.check_gone(keys, answer)
        return str(answer[0])

    async def give_back(self, entry_ids: list[str]) -> None:
        """Batches we will not send (stopping): make them idle at once, so that another
        worker takes them over now rather than after the visibility timeout. Best effort:
        if Redis cannot be reached, they are taken over after the timeout anyway."""
        if not entry_ids:
            return
        keys = self.keys
        try:
            await self._release(
                keys=[keys.batches], args=[GROUP, self.name, _GIVEN_BACK_IDLE, *entry_ids]
            )
        except Exception:  # best effort, see above
            redisio.log.warning("could not give back %d batches", len(entry_ids))
