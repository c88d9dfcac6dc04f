"""A worker's side of the job's consumer group: new batches, batches of dead workers, its own
batches kept (the heartbeat) and unsent ones given back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from ..core.redis_connection import RedisWait
from ..core.stop import StopSignal
from . import redisio
from .redis_keys import GROUP, JobKeys
from .scripts import HEARTBEAT, RELEASE, TAKE, TAKEOVER

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: own pending batches a retried take may find beyond those held: any lost take's (at most
#: a worker's capacity), with room to spare
_AGAIN_ROOM: Final = 1000
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


def _not_held(raw: list[Any], held: set[str], held_when_asked: frozenset[str]) -> list[Entry]:
    """The entries of an answer that are this worker's to start: none it holds, nor any it
    held when it asked. A retry reads the worker's own pending batches again, and one of
    them may settle (leave ``held``) while the answer is on its way: it is not sent twice."""
    return [e for e in map(_entry, raw) if e[0] not in held and e[0] not in held_when_asked]


class Claims:
    """Takes and keeps batches for worker ``name``.

    Args:
        redis: the client.
        keys: the job's keys.
        name: the worker's consumer name.
        visibility_timeout: seconds a batch may go without its worker's heartbeat.
        wait: how to wait for Redis (the worker's).
        block: seconds one read waits for new batches.
    """

    def __init__(
        self,
        redis: Redis,
        keys: JobKeys,
        name: str,
        visibility_timeout: float,
        wait: RedisWait,
        block: float = 1.0,
    ) -> None:
        self.redis = redis
        self.block = block
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

    async def read(
        self, count: int, stop: StopSignal, held: set[str], block: float | None = None
    ) -> list[Entry]:
        """New batches (``scripts.TAKE``), waiting up to ``block`` seconds (``self.block``
        if None) for one; ``held``: the batches this worker holds (a retried take leaves
        them out).

        Raises:
            JobCancelled: the job is cancelled: nothing was taken.
        """
        block = self.block if block is None else block
        last, entries = await self._take(count, stop, held)
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
        return (await self._take(count, stop, held))[1] if arrived else []

    async def _take(self, count: int, stop: StopSignal, held: set[str]) -> tuple[str, list[Entry]]:
        asked = frozenset(held)
        answer = await redisio.call(
            self.keys, self._first(self._take_new(count), held), stop, wait=self.wait
        )
        _check(self.keys, answer)
        return str(answer[1]), _not_held(answer[2:], held, asked)

    def _take_new(self, count: int) -> Callable[[], Awaitable[Any]]:
        keys = self.keys
        return lambda: self._take_script(
            keys=[keys.meta, keys.batches], args=[GROUP, self.name, count, ">"]
        )

    def _first(
        self, call: Callable[[], Awaitable[Any]], held: set[str]
    ) -> Callable[[], Awaitable[Any]]:
        """``call`` the first time; a retry (its first run may have taken batches and lost
        the answer) reads this worker's own pending batches again instead, so that the lost
        ones are handed out now, and none twice (the caller leaves out those it holds or
        held when it asked: ``_not_held``)."""
        tries = 0
        keys = self.keys

        def attempt() -> Awaitable[Any]:
            nonlocal tries
            tries += 1
            if tries == 1:
                return call()
            args: list[str | int] = [GROUP, self.name, len(held) + _AGAIN_ROOM, "0"]
            return self._take_script(keys=[keys.meta, keys.batches], args=args)

        return attempt

    async def take_over(self, count: int, held: set[str], stop: StopSignal) -> list[Entry]:
        """Batches idle longer than the visibility timeout (``scripts.TAKEOVER``): their
        worker is gone, or stopped and gave them back.

        Raises:
            JobCancelled: the job is cancelled: nothing was taken.
        """
        keys = self.keys
        asked = frozenset(held)
        args: list[str | int] = [GROUP, self.name, self.min_idle_ms, self._cursor, count]
        first = self._first(lambda: self._takeover(keys=[keys.meta, keys.batches], args=args), held)
        tries: list[None] = []

        def attempt() -> Awaitable[Any]:
            tries.append(None)
            return first()

        answer: Any = await redisio.call(keys, attempt, stop, wait=self.wait)
        _check(keys, answer)
        if len(tries) == 1:  # a retry's answer is a take's: no cursor in it
            self._cursor = str(answer[1])
        # An entry of our own comes back only if our heartbeat could not reach Redis: it is
        # still being worked on here (or was, when we asked).
        return _not_held(answer[2:], held, asked)

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
