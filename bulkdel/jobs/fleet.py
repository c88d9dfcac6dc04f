"""A standing worker with no job of its own: it serves every open job on its Redis.

``job submit`` adds each job's name to one registry set (``REGISTRY``). A fleet worker goes
round the open jobs in name order and gives each a turn: a ``Worker`` on that job that takes
up to ``turn`` batches (settling them all) or until the job has nothing to take now, then
the next job. So two open jobs share every worker about evenly by batches, and a job
submitted later is served from the next round on, whatever is open before it. Each turn
begins with a look for batches of dead workers (``Claims.take_over``), so takeover is as
prompt as for a worker named for its job.

Round-robin by turns, not one ``Worker`` a job at once: a fleet worker's capacity (and its
account budget) is one, and concurrent workers would split it by how fast each job's batches
arrive, not evenly; a turn is short (``turn`` batches), so a job waits for at most one turn
of each other open job.

With no job open, the worker looks again every ``idle_wait`` seconds (one round trip), or
ends when ``exit_when_idle``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ..core.redis_connection import RedisWait, url_of
from ..core.stop import StopSignal
from ..errors import JobGoneError, Stopped
from ..models import Abort, AbortReason
from .redis_keys import REGISTRY, JobKeys
from .worker import VISIBILITY_TIMEOUT, Worker, WorkerResult, worker_name

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .outcome import BatchProcessor

#: batches a turn takes, at most, before the next open job's turn
TURN: Final = 64
#: seconds between looks for an open job when there is none
IDLE_WAIT: Final = 2.0

#: opens the processor of one job (entered once, at its first turn; exited when the job is
#: finished or cancelled, or the fleet ends)
ProcessorFor = Callable[[str], contextlib.AbstractAsyncContextManager["BatchProcessor"]]


@dataclass
class FleetResult:
    """What a fleet worker did: its figures per job, and how it ended.

    Attributes:
        name: the worker's consumer name (the same in every job).
        jobs: per job, its figures summed over the turns.
        aborted: why it stopped early (a fatal answer); None otherwise.
    """

    name: str
    jobs: dict[str, WorkerResult] = field(default_factory=dict)
    aborted: Abort | None = None

    def total(self) -> WorkerResult:
        """The figures of every job, summed."""
        total = WorkerResult(self.name)
        for one in self.jobs.values():
            total.batches += one.batches
            total.late += one.late
            total.claimed += one.claimed
        return total


class Fleet:
    """Serves every open job on ``redis`` until stopped (or idle, with ``exit_when_idle``).

    Args:
        redis: an asyncio client.
        processor_for: opens the batch processor of a job (one per job, with its record).
        name: the consumer name in every job; unique by default.
        capacity, visibility_timeout, block, wait: as ``Worker``'s.
        turn: batches one job's turn takes at most.
        exit_when_idle: end when no job is open, rather than wait for one.
        idle_wait: seconds between looks while no job is open.
        stop: the fleet's stop signal (``stop()`` sets it).
    """

    def __init__(
        self,
        redis: Redis,
        processor_for: ProcessorFor,
        *,
        name: str | None = None,
        capacity: int = 16,
        visibility_timeout: float = VISIBILITY_TIMEOUT,
        block: float = 1.0,
        wait: RedisWait | None = None,
        turn: int = TURN,
        exit_when_idle: bool = False,
        idle_wait: float = IDLE_WAIT,
        stop: StopSignal | None = None,
    ) -> None:
        self.redis = redis
        self.processor_for = processor_for
        self.name = name or worker_name()
        self.capacity = capacity
        self.visibility_timeout = visibility_timeout
        self.block = block
        self.wait = wait or RedisWait(url_of(redis))
        self.turn = turn
        self.exit_when_idle = exit_when_idle
        self.idle_wait = idle_wait
        self.stop_signal = stop or StopSignal()
        self.result = FleetResult(self.name)
        self._current: Worker | None = None
        self._processors: dict[str, BatchProcessor] = {}
        self._open = contextlib.AsyncExitStack()
        self._closers: dict[str, contextlib.AsyncExitStack] = {}

    def stop(self, reason: str = "stopped") -> None:
        """Take no new batch; the batches in hand are finished and settled."""
        self.stop_signal.set(Abort(AbortReason.STOPPED, reason))
        if self._current is not None:
            self._current.stop(reason)
        for processor in self._processors.values():
            halt = getattr(processor, "stop", None)
            if callable(halt):
                halt(reason)

    async def run(self) -> FleetResult:
        """Serve open jobs until stopped, or idle with ``exit_when_idle``.

        Raises:
            JobGoneError: a job vanished from Redis while this worker held its batches.
            RedisError: Redis cannot be used, as for ``Worker.run``.
        """
        async with self._open:
            try:
                while not self.stop_signal.is_set:
                    jobs = await self.open_jobs()
                    if not jobs:
                        if self.exit_when_idle:
                            break
                        await self.stop_signal.sleep(self.idle_wait)
                        continue
                    for job in jobs:
                        if self.stop_signal.is_set or not await self._turn(job):
                            break
            except Stopped:
                pass
        return self.result

    async def open_jobs(self) -> list[str]:
        """The registered jobs that may have batches to take, in name order: not cancelled,
        and not submitted whole with every batch settled. A registered name with no job
        metadata (deleted after its report) leaves the registry."""

        async def look() -> list[str]:
            # the client decodes responses (``connect``): members are str
            names = sorted(str(n) for n in await self.redis.smembers(REGISTRY))
            if not names:
                return []
            async with self.redis.pipeline(transaction=False) as pipe:
                for name in names:
                    keys = JobKeys.of(name)
                    pipe.hget(keys.meta, "state")
                    pipe.xlen(keys.batches)
                answers = await pipe.execute()
            found: list[str] = []
            gone: list[str] = []
            for name, state, left in zip(names, answers[::2], answers[1::2], strict=True):
                if state is None:
                    gone.append(name)
                elif state == "submitting" or (state == "submitted" and left):
                    found.append(name)
            if gone:
                await self.redis.srem(REGISTRY, *gone)
            return found

        return await self.wait.call(look, self.stop_signal)

    async def _turn(self, job: str) -> bool:
        """One turn on ``job``; False when the fleet must end (an abort)."""
        processor = await self._processor(job)
        worker = Worker(
            self.redis,
            job,
            processor,
            name=self.name,
            capacity=self.capacity,
            visibility_timeout=self.visibility_timeout,
            block=self.block,
            wait=self.wait,
            turn=self.turn,
            until_idle=True,
        )
        self._current = worker
        try:
            one = await worker.run()
        except JobGoneError:
            if worker.result.taken:
                raise  # it vanished under our batches: Redis lost it
            return True  # deleted between the look and the turn
        finally:
            self._current = None
        self._add(job, one)
        if one.aborted is not None:
            self.result.aborted = one.aborted
            return False
        if one.finished or one.cancelled:
            await self._closers.pop(job).aclose()
            self._processors.pop(job, None)
        return True

    async def _processor(self, job: str) -> BatchProcessor:
        processor = self._processors.get(job)
        if processor is None:
            closer = contextlib.AsyncExitStack()
            processor = await closer.enter_async_context(self.processor_for(job))
            self._open.push_async_callback(closer.aclose)
            self._closers[job] = closer
            self._processors[job] = processor
        return processor

    def _add(self, job: str, one: WorkerResult) -> None:
        into = self.result.jobs.setdefault(job, WorkerResult(self.name))
        into.batches += one.batches
        into.late += one.late
        into.claimed += one.claimed
        into.taken += one.taken
        into.finished = one.finished
        into.cancelled = one.cancelled
