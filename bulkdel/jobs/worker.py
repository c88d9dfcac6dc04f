"""A worker of a distributed job: takes batches from the job's stream and settles them.

Batches come through the consumer group (``XREADGROUP``), or from a dead worker after the
visibility timeout (``XAUTOCLAIM``: their ids count as in flight earlier), each inside a
script that first checks the job's state, so that nothing is taken after a cancel. A heartbeat
re-claims the worker's own pending batches (``XCLAIM ... JUSTID``) so that a slow but live
worker keeps them. Each batch is settled by one script that acknowledges it and, only if that
acknowledged it, records its outcome (see ``scripts.SETTLE``); so a crash between the two
cannot exist, and a batch taken over and settled twice is counted once.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..core.redis_connection import RedisWait, url_of
from ..core.stop import STOPPED, StopSignal
from ..errors import RedisError, Stopped
from ..models import Abort, AbortReason
from ..record.ledger import RequestsSince
from . import redisio
from .claim import Claims, JobCancelled
from .outcome import BatchOutcome, BatchProcessor
from .redis_keys import GROUP, JobKeys
from .scripts import SETTLE
from .submit_watch import SubmitWatch

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: seconds a batch may go without a heartbeat before another worker takes it over (chosen
#: from a measurement: benchmarks/takeover.py, figures in benchmarks/TAKEOVER_RESULTS.md)
VISIBILITY_TIMEOUT: Final = 12.0
#: why a worker stops when its job is cancelled: it takes nothing more (not a task's cancel)
JOB_CANCELLED: Final = Abort(AbortReason.STOPPED, "cancelled")


def worker_name() -> str:
    """A name no other worker has: host, process id and a random tail."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


@dataclass
class WorkerResult:
    """What one worker did.

    Attributes:
        name: the worker's consumer name.
        batches: batches it settled on time.
        late: settles that came after another worker had taken the batch over.
        claimed: batches it took over from other workers.
        finished: the job has no batch left (every batch is settled).
        cancelled: the job was cancelled.
        taken: batches it took (new or taken over), settled or not.
        aborted: why the worker stopped early (a fatal answer), typed; None otherwise. The
            CLI's exit code is ``aborted.exit_code``.
    """

    name: str
    batches: int = 0
    late: int = 0
    claimed: int = 0
    finished: bool = False
    cancelled: bool = False
    taken: int = 0
    aborted: Abort | None = None


class Worker:
    """Works on one job until it is finished, cancelled or stopped.

    Args:
        redis: an asyncio client (``bulkdel.jobs.connect``).
        job: the job's name.
        processor: sends batches (``PipelineProcessor``, or a stand-in in tests).
        name: the consumer name; unique by default.
        capacity: batches held at once.
        visibility_timeout: seconds without a heartbeat after which a batch is taken over.
        block: seconds one read waits for new batches.
        stop: the worker's stop signal (``stop()`` sets it).
        wait: how to wait for Redis through an outage (``--redis-wait``); shared with the
            account budget on the same client. ``RedisWait`` defaults if None.
        on_wait: called once if the job is not in Redis yet: the worker waits for it.
        on_stalled: told once the job's submit must be run again (``submit_watch``).
        turn: return once this many batches are taken and settled (a fleet's turn).
        until_idle: return when there is nothing to take now (a fleet moves on).
    """

    def __init__(
        self,
        redis: Redis,
        job: str,
        processor: BatchProcessor,
        *,
        name: str | None = None,
        capacity: int = 16,
        visibility_timeout: float = VISIBILITY_TIMEOUT,
        block: float = 1.0,
        stop: StopSignal | None = None,
        wait: RedisWait | None = None,
        on_wait: Callable[[], None] | None = None,
        on_stalled: Callable[[str], None] | None = None,
        turn: int | None = None,
        until_idle: bool = False,
    ) -> None:
        self.redis = redis
        self.on_wait = on_wait
        self.turn = turn
        self.until_idle = until_idle
        self.keys = JobKeys.of(job)
        self.processor = processor
        self.name = name or worker_name()
        self.capacity = max(1, capacity)
        self.visibility_timeout = visibility_timeout
        self.heartbeat_every = visibility_timeout / 4
        self.block = block
        self.stop_signal = stop or StopSignal()
        self.wait = wait or RedisWait(url_of(redis))
        #: settles and heartbeats wait for Redis as ``wait`` allows, whatever a stop says
        self._forever = StopSignal(self.stop_signal.clock)
        self._settle = redis.register_script(SETTLE)
        self.claims = Claims(redis, self.keys, self.name, visibility_timeout, self.wait, block)
        self.submit_watch = SubmitWatch(redis, self.keys, f"worker {self.name}: ", on_stalled)
        #: why Redis cannot be used (out of memory, past the wait): raised once all is given back
        self._failure: RedisError | None = None
        self._in_hand: set[str] = set()
        #: batches this worker stopped without sending: given back when it leaves
        self._unsent: list[str] = []
        self._room = asyncio.Event()
        self._tally = RequestsSince(processor.requests)
        self.result = WorkerResult(self.name)

    def stop(self, reason: Abort = STOPPED) -> None:
        """Take no new batch; the batches in hand are finished and settled."""
        self.stop_signal.set(reason)

    async def run(self) -> WorkerResult:
        """Work until the job is finished or cancelled, or the worker is stopped.

        A job not in Redis yet is waited for (``on_wait`` says so once): workers may stand
        before their jobs.

        Raises:
            JobGoneError: the job was in Redis and is not any more (lost in a restart).
            RedisError: Redis cannot be used (a refused password, out of memory) or did not
                answer within ``wait.total``; the batches this worker held and could not
                settle were given back first (or, if Redis is gone, are taken over after
                the visibility timeout).
        """
        try:
            await self.claims.arrival(self.block, self.stop_signal, self.on_wait)
        except Stopped:
            return self.result
        if await self._state() == "cancelled":
            # Started after the cancel: takes nothing (the takes would refuse anyway).
            self.result.cancelled = True
            return self.result
        try:
            async with asyncio.TaskGroup() as group:
                beat = group.create_task(self._heartbeats())
                await self._take(group)
                while self._in_hand:  # the batches in hand finish and settle
                    self._room.clear()
                    await self._room.wait()
                beat.cancel()
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        finally:
            await self.claims.give_back(self._unsent)
            await _flush_requests(self.redis, self.keys, self.name, self._tally)
        if self._failure is not None:
            raise self._failure
        return self.result

    def _fail(self, error: RedisError) -> None:
        """Redis cannot be used: take nothing more, send nothing more, stop the heartbeat."""
        if self._failure is None:
            self._failure = error
        reason = Abort(AbortReason.FATAL, str(error))
        self.stop_signal.set(reason)
        self._forever.set(reason)
        self.processor.stop(reason)

    async def _take(self, group: asyncio.TaskGroup) -> None:
        """Take batches while there is room, until the job is done or the worker stops."""
        due = 0.0
        idle = False
        clock = self.stop_signal.clock
        while not self.stop_signal.is_set:
            free = self.capacity - len(self._in_hand)
            # Read when a quarter of the room is free, not for every slot: fewer round trips.
            if free <= 0 or (self._in_hand and free < self.capacity // 4):
                self._room.clear()
                await self._room.wait()
                continue
            try:
                claimed: list[Any] = []
                # Looked for now and then, and whenever there is nothing new to do.
                if idle or clock.time() >= due:
                    claimed = await self.claims.take_over(free, self._in_hand, self.stop_signal)
                    self.result.claimed += len(claimed)
                    due = clock.time() + self.heartbeat_every
                entries = claimed or await self.claims.read(free, self.stop_signal, self._in_hand)
                idle = not entries
                if idle and (await self._done() or self.until_idle):
                    return
            except JobCancelled:
                # The take refused: no batch after the cancel; those in hand finish.
                self.result.cancelled = True
                self.stop(JOB_CANCELLED)
                return
            except Stopped:
                return
            except RedisError as error:
                self._fail(error)
                return
            self.result.taken += len(entries)
            for entry_id, fields in entries:
                self._in_hand.add(entry_id)
                # "e": re-submitted after Redis went back in time: it may have been sent
                earlier = bool(claimed) or fields.get("e") == "1"
                group.create_task(self._handle(entry_id, fields, earlier))
            if self.turn is not None and self.result.taken >= self.turn:
                return

    async def _state(self) -> str:
        """The job's state in Redis. Raises ``JobGoneError`` when it has none."""
        keys = self.keys
        # HMGET, not HGET: scripts use HGET, and benchmarks count a worker's round trips
        # by command name
        (state,) = await redisio.call(
            keys,
            lambda: self.redis.hmget(keys.meta, ["state"]),
            self.stop_signal,
            wait=self.wait,
        )
        redisio.check_gone(keys, -1 if state is None else state)
        return str(state)

    async def _done(self) -> bool:
        """True when the job is cancelled, or submitted whole and every batch settled."""
        state = await self._state()
        if state == "cancelled":
            self.result.cancelled = True
            return True
        await self.submit_watch.check(state, self.stop_signal, self.wait)
        if state != "submitted":
            return False
        keys = self.keys
        left = await redisio.call(
            keys, lambda: self.redis.xlen(keys.batches), self.stop_signal, wait=self.wait
        )
        self.result.finished = left == 0
        return self.result.finished

    async def _handle(self, entry_id: str, fields: dict[str, str], earlier: bool) -> None:
        try:
            outcome = await self.processor.process(fields.get("ids", "").split(), earlier)
            if outcome is None:
                aborted = self.processor.abort
                if aborted is not None:
                    self.result.aborted = aborted
                    self.stop_signal.set(aborted)
                self._unsent.append(entry_id)  # given back for another worker to take
                return
            try:
                await self._settle_one(entry_id, outcome, earlier)
            except (RedisError, Stopped) as error:
                # Not settled: given back, so that another worker takes it over at once
                # (its ids count as in flight earlier there); never held by a dead worker.
                self._unsent.append(entry_id)
                if isinstance(error, RedisError):
                    self._fail(error)
        finally:
            self._in_hand.discard(entry_id)
            self._room.set()

    async def _settle_one(self, entry_id: str, outcome: BatchOutcome, earlier: bool) -> None:
        keys = self.keys
        sent, retried, by_status = self._tally.delta()
        args = [
            GROUP,
            entry_id,
            self.name,
            "1" if earlier else "0",
            " ".join(outcome.deleted),
            " ".join(outcome.missing),
            " ".join(outcome.missing_after_retry),
            outcome.failed_json(),
            sent,
            retried,
            json.dumps(by_status),
        ]
        script_keys = keys.settle_keys()  # the settle that finishes the job expires them all
        answer = await redisio.call(
            keys,
            lambda: self._settle(keys=script_keys, args=args),
            self._forever,
            wait=self.wait,
        )
        redisio.check_gone(keys, answer)
        if answer == 1:
            self.result.batches += 1
        else:
            self.result.late += 1

    async def _heartbeats(self) -> None:
        """Keep our batches ours; notice a cancel; say we are alive."""
        try:
            while True:
                await self._forever.sleep(self.heartbeat_every)
                if await self.claims.heartbeat(self._in_hand, self._forever) == "cancelled":
                    self.result.cancelled = True
                    self.stop(JOB_CANCELLED)
        except RedisError as error:
            self._fail(error)
        except Stopped:
            pass  # ``_fail`` stopped it


async def _flush_requests(redis: Redis, keys: JobKeys, name: str, tally: RequestsSince) -> None:
    """Count the requests of batches left unsettled (stopped, or fatal)."""
    sent, retried, by_status = tally.delta()
    if not (sent or retried or by_status):
        return
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hincrby(keys.counts, "requests_sent", sent)
        pipe.hincrby(keys.counts, "requests_retried", retried)
        for status, n in by_status.items():
            pipe.hincrby(keys.counts, f"status:{status}", n)
        pipe.hincrby(keys.workers, f"{name}|requests", sent)
        try:
            await pipe.execute()
        except Exception:  # figures only; the ids are accounted already
            redisio.log.warning("could not record the last request figures")
