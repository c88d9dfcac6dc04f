"""A worker's side of the job's consumer group: new batches, batches of dead workers, its own
batches kept (the heartbeat) and unsent ones given back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..core.stop import StopSignal
from ..redis_connection import RedisWait
from . import redisio
from .redis_keys import GROUP, JobKeys
from .scripts import HEARTBEAT, RELEASE

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: idle time a given-back batch gets: past any worker's visibility timeout (ten days, ms)
_GIVEN_BACK_IDLE: Final = 864_000_000

Entry = tuple[str, dict[str, str]]


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
        self._cursor = "0-0"

    async def read(self, count: int, block: float, stop: StopSignal) -> list[Entry]:
        """New batches (``XREADGROUP``), waiting up to ``block`` seconds for one."""
        keys = self.keys
        answer: Any = await redisio.call(
            keys,
            lambda: self.redis.xreadgroup(
                GROUP,
                self.name,
                {keys.batches: ">"},
                count=count,
                block=max(1, int(block * 1000)),
            ),
            stop,
            wait=self.wait,
        )
        return list(answer[0][1]) if answer else []

    async def take_over(self, count: int, held: set[str], stop: StopSignal) -> list[Entry]:
        """Batches idle longer than the visibility timeout (``XAUTOCLAIM``): their worker is
        gone, or stopped and gave them back."""
        keys = self.keys
        answer = await redisio.call(
            keys,
            lambda: self.redis.xautoclaim(
                keys.batches,
                GROUP,
                self.name,
                self.min_idle_ms,
                start_id=self._cursor,
                count=count,
            ),
            stop,
            wait=self.wait,
        )
        self._cursor = str(answer[0])
        # An entry of our own comes back only if our heartbeat could not reach Redis: it is
        # still being worked on here.
        return [(i, f) for i, f in answer[1] if f is not None and i not in held]

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
