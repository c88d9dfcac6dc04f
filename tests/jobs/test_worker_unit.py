"""``bulkdel.jobs.worker.Worker`` on its own, against a private redis-server: what it takes,
what it settles (counts, request figures, acks), what it gives back, and how it ends (finished,
stopped, cancelled, job gone).

The job is laid out by hand (metadata, consumer group, batches), not by a submit, and the
batches go to stand-in processors, so that only ``Worker`` is under test. No test waits on
time: a processor's gate, its own calls or a clock the test ticks decide the order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bulkdel.core.stop import StopSignal
from bulkdel.errors import JobGoneError
from bulkdel.jobs import BatchOutcome, Worker, connect
from bulkdel.jobs.claim import Claims
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.jobs.scripts import SETTLE
from bulkdel.jobs.worker import JOB_CANCELLED
from bulkdel.models import Abort, AbortReason
from tests.jobs.helpers import StandIn
from tests.redis_server import RedisServer

JOB = "wunit"
KEYS = JobKeys.of(JOB)
#: a visibility timeout no batch of these tests reaches unless it is given back (and a
#: heartbeat period, its quarter, that no test reaches on the loop's clock)
HOUR = 3600.0
#: the idle time a given-back batch has at least (``claim._GIVEN_BACK_IDLE``)
GIVEN_BACK_MS = 864_000_000


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


async def _job(
    redis: Any, batches: int, state: str = "submitted", size: int = 2, **fields: str
) -> list[str]:
    """A job with ``batches`` batches of ``size`` ids on its stream; their entry ids."""
    await redis.hset(KEYS.meta, mapping={"state": state})
    await redis.xgroup_create(KEYS.batches, GROUP, id="0", mkstream=True)
    return [
        await redis.xadd(KEYS.batches, {"ids": " ".join(_ids(n, size)), **fields})
        for n in range(batches)
    ]


def _ids(batch: int, size: int = 2) -> list[str]:
    return [f"{batch:012x}{n:012x}" for n in range(size)]


def _worker(redis: Any, processor: Any, **options: Any) -> Worker:
    options = {"name": "w", "visibility_timeout": HOUR, "block": 0.0, **options}
    return Worker(redis, JOB, processor, **options)


async def _counts(redis: Any) -> dict[str, int]:
    return {k: int(v) for k, v in (await redis.hgetall(KEYS.counts)).items()}


async def _pending(redis: Any) -> dict[str, tuple[str, int]]:
    """Every pending batch: its consumer and its idle time (ms)."""
    rows = await redis.xpending_range(KEYS.batches, GROUP, "-", "+", 1000)
    return {r["message_id"]: (r["consumer"], int(r["time_since_delivered"])) for r in rows}


class Scripted(StandIn):
    """A stand-in whose ``process`` first runs ``before(ids)`` (a test's move in Redis) and
    whose outcome ``outcome(ids)`` decides (StandIn's when None)."""

    def __init__(
        self,
        before: Callable[[list[str]], Awaitable[None]] | None = None,
        outcome: Callable[[list[str]], BatchOutcome | None] | None = None,
    ) -> None:
        super().__init__()
        self.before = before
        self.outcome = outcome

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome | None:
        if self.before is not None:
            await self.before(file_ids)
        done = await super().process(file_ids, in_flight_earlier)
        return done if self.outcome is None else self.outcome(file_ids)


class Held(StandIn):
    """A pipeline in miniature: the first ``slots`` batches begin and wait for ``gate``; the
    others queue, and resolve to None unsent once ``stop`` is called (as
    ``PipelineProcessor``'s do)."""

    def __init__(self, slots: int) -> None:
        super().__init__(asyncio.Event())
        self.slots, self.stopped = slots, asyncio.Event()
        self.queued: list[list[str]] = []

    def stop(self, reason: Abort) -> None:
        self.stopped.set()

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome | None:
        if len(self.calls) < self.slots:
            return await super().process(file_ids, in_flight_earlier)
        self.queued.append(file_ids)
        await self.stopped.wait()
        return None


class Blips:
    """A ``RedisWait`` whose every call meets an outage and waits it out first, on the
    caller's stop signal: a stop ends the wait (``Stopped``) unless the caller waits
    whatever a stop says."""

    async def call(self, operation: Callable[[], Awaitable[Any]], stop: StopSignal) -> Any:
        await stop.sleep(0)
        return await operation()


class Ticks:
    """A clock that stands still: a sleep on it ends when the test ticks (the heartbeat is
    its one sleeper here), and ``tick`` returns once the sleeper is asleep again."""

    def __init__(self) -> None:
        self.asleep = asyncio.Event()
        self._tick = asyncio.Event()

    def time(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self.asleep.set()
        await self._tick.wait()
        self._tick.clear()

    async def tick(self) -> None:
        await self.asleep.wait()
        self.asleep.clear()
        self._tick.set()
        await self.asleep.wait()


# -- settle ---------------------------------------------------------------------------------


async def test_every_batch_is_processed_once_and_settled_with_its_outcome(redis: Any) -> None:
    entries = await _job(redis, 3)
    processor = StandIn()
    result = await _worker(redis, processor).run()
    assert (result.taken, result.batches, result.late, result.claimed) == (3, 3, 0, 0)
    assert result.finished and not result.cancelled and result.aborted is None
    assert sorted(ids for ids, _ in processor.calls) == [_ids(n) for n in range(3)]
    assert [earlier for _, earlier in processor.calls] == [False] * 3
    counts = await _counts(redis)
    assert (counts["deleted"], counts["batches_settled"], counts["missing"]) == (6, 3, 0)
    assert await _pending(redis) == {}  # acked
    assert await redis.xlen(KEYS.batches) == 0  # and off the stream
    assert await redis.xlen(KEYS.results) == 3
    assert await redis.hgetall(KEYS.settled) == dict.fromkeys(entries, "w")
    assert await redis.hget(KEYS.workers, "w|batches") == "3"


async def test_each_bucket_of_an_outcome_is_counted_in_the_jobs_hash(redis: Any) -> None:
    await _job(redis, 1, size=5)
    a, b, c, d, e = _ids(0, 5)

    def outcome(ids: list[str]) -> BatchOutcome:
        return BatchOutcome(
            deleted=[a, b], missing=[c], missing_after_retry=[d], failed=[(e, "HTTP 500", 500, 6)]
        )

    result = await _worker(redis, Scripted(outcome=outcome)).run()
    assert result.batches == 1
    counts = await _counts(redis)
    buckets = ("deleted", "missing", "missing_after_retry", "failed", "batches_settled")
    # missing counts every missing id, those after a retry included
    assert [counts[k] for k in buckets] == [2, 2, 1, 1, 1]
    [(_, fields)] = await redis.xrange(KEYS.results)
    assert fields["n"] == "2 1 1"


async def test_request_figures_are_added_once_per_settle_not_as_run_totals(redis: Any) -> None:
    """Each settle adds what the processor sent since the last one: three batches of one
    request each are three requests (the run's totals added at each settle would be six)."""
    await _job(redis, 3)
    await _worker(redis, StandIn(), capacity=1).run()
    counts = await _counts(redis)
    assert (counts["requests_sent"], counts["requests_retried"], counts["status:200"]) == (3, 0, 3)
    assert await redis.hget(KEYS.workers, "w|requests") == "3"


async def test_a_batch_settled_by_another_worker_first_is_late_and_counted_once(redis: Any) -> None:
    [entry] = await _job(redis, 1)
    settle = redis.register_script(SETTLE)

    async def other_settles_first(ids: list[str]) -> None:
        args = [GROUP, entry, "other", "0", " ".join(ids), "", "", "[]", 1, 0, "{}"]
        assert await settle(keys=KEYS.settle_keys(), args=args) == 1

    result = await _worker(redis, Scripted(before=other_settles_first)).run()
    assert (result.batches, result.late) == (0, 1)
    counts = await _counts(redis)
    assert (counts["deleted"], counts["batches_settled"]) == (2, 1)
    assert await redis.hget(KEYS.settled, entry) == "other"


# -- earlier delivery -----------------------------------------------------------------------


async def test_a_batch_taken_over_from_a_dead_worker_is_sent_as_in_flight_earlier(
    redis: Any,
) -> None:
    entries = await _job(redis, 2)
    dead = Claims(redis, KEYS, "dead", HOUR, _worker(redis, StandIn()).wait, block=0.0)
    await dead.read(1, StopSignal(), set())
    await dead.give_back(entries[:1])  # idle past the visibility timeout now
    processor = StandIn()
    processor.missing = {_ids(0)[0]}
    result = await _worker(redis, processor).run()
    assert (result.claimed, result.taken, result.batches) == (1, 2, 2)
    assert sorted(processor.calls) == [(_ids(0), True), (_ids(1), False)]
    counts = await _counts(redis)
    assert (counts["missing_after_retry"], counts["deleted"]) == (1, 3)


async def test_a_re_submitted_batch_is_sent_as_in_flight_earlier(redis: Any) -> None:
    """``e=1``: the batch was re-submitted after Redis went back in time; it may have been
    sent, so its ids are marked for the report to merge."""
    await _job(redis, 1, e="1")
    processor = StandIn()
    await _worker(redis, processor).run()
    assert processor.calls == [(_ids(0), True)]
    assert await redis.hgetall(KEYS.marks) == dict.fromkeys(_ids(0), "d")


# -- unsettled: stopped processor, worker stop ----------------------------------------------


async def test_a_batch_the_processor_stopped_without_is_given_back_unsettled(redis: Any) -> None:
    """The processor's None: the batch goes back for another worker at once (idle past any
    visibility timeout), with no outcome recorded; its requests are still counted, once."""
    [entry] = await _job(redis, 1, state="submitting")
    result = await _worker(redis, Scripted(outcome=lambda ids: None), until_idle=True).run()
    assert (result.taken, result.batches, result.finished) == (1, 0, False)
    assert result.aborted is None
    pending = await _pending(redis)
    assert list(pending) == [entry]
    assert pending[entry][0] == "w" and pending[entry][1] >= GIVEN_BACK_MS
    assert await redis.xlen(KEYS.batches) == 1
    assert await redis.xlen(KEYS.results) == 0
    assert await redis.hgetall(KEYS.settled) == {}
    assert await _counts(redis) == {"requests_sent": 1, "requests_retried": 0, "status:200": 1}


async def test_a_processor_aborted_for_good_stops_the_worker_with_its_reason(redis: Any) -> None:
    entries = await _job(redis, 3)
    fatal = Abort(AbortReason.FATAL, "refused key")
    processor = Scripted(outcome=lambda ids: None)
    processor.abort = fatal
    worker = _worker(redis, processor, capacity=1, until_idle=True)
    result = await worker.run()
    assert result.aborted == fatal and worker.stop_signal.reason == fatal
    assert (result.taken, result.batches) == (1, 0)  # nothing more taken after the abort
    assert list(await _pending(redis)) == entries[:1]
    assert (await _pending(redis))[entries[0]][1] >= GIVEN_BACK_MS


async def test_stop_finishes_begun_batches_and_gives_back_the_rest(redis: Any) -> None:
    """Four batches taken (the capacity), two begun and two queued when the stop comes: the
    begun two settle after it (waiting out an outage the stop does not end), the queued two
    go back unsent, the last two stay new."""
    entries = await _job(redis, 6)
    processor = Held(slots=2)
    worker = _worker(redis, processor, capacity=4, wait=Blips())
    running = asyncio.ensure_future(worker.run())
    while len(processor.calls) + len(processor.queued) < 4:
        await asyncio.sleep(0)
    reason = Abort(AbortReason.INTERRUPTED, "SIGTERM")
    worker.stop(reason)
    processor.stop(reason)
    assert processor.gate is not None
    processor.gate.set()
    result = await running
    assert worker.stop_signal.reason == reason and result.aborted is None
    assert (result.taken, result.batches, result.finished) == (4, 2, False)
    by_ids = {" ".join(_ids(n)): entry for n, entry in enumerate(entries)}
    settled = {by_ids[" ".join(ids)] for ids, _ in processor.calls}
    given_back = {by_ids[" ".join(ids)] for ids in processor.queued}
    assert set(await redis.hgetall(KEYS.settled)) == settled
    assert (await _counts(redis))["deleted"] == 4
    pending = await _pending(redis)
    assert set(pending) == given_back
    assert all(owner == "w" and idle >= GIVEN_BACK_MS for owner, idle in pending.values())
    assert await redis.xlen(KEYS.batches) == 4  # two given back, two never taken


async def test_a_turn_ends_the_run_once_that_many_batches_are_taken_and_settled(redis: Any) -> None:
    entries = await _job(redis, 3)
    result = await _worker(redis, StandIn(), capacity=1, turn=2).run()
    assert (result.taken, result.batches, result.finished) == (2, 2, False)
    assert set(await redis.hgetall(KEYS.settled)) == set(entries[:2])
    assert await _pending(redis) == {}


# -- how it ends: cancelled, gone, waiting ---------------------------------------------------


async def test_a_worker_started_after_the_cancel_takes_nothing(redis: Any) -> None:
    await _job(redis, 2, state="cancelled")
    processor = StandIn()
    result = await _worker(redis, processor).run()
    assert result.cancelled and result.taken == 0 and processor.calls == []
    assert await _pending(redis) == {}


async def test_a_cancel_while_working_settles_the_batch_in_hand_and_takes_no_more(
    redis: Any,
) -> None:
    entries = await _job(redis, 3)

    async def cancel(ids: list[str]) -> None:
        await redis.hset(KEYS.meta, "state", "cancelled")

    worker = _worker(redis, Scripted(before=cancel), capacity=1)
    result = await worker.run()
    assert result.cancelled and not result.finished
    assert (result.taken, result.batches) == (1, 1)
    assert worker.stop_signal.reason == JOB_CANCELLED
    assert set(await redis.hgetall(KEYS.settled)) == set(entries[:1])
    assert await _pending(redis) == {}  # the other two never taken


async def test_the_heartbeat_keeps_the_batch_in_hand_and_notices_a_cancel(redis: Any) -> None:
    """The worker full (its one slot in hand), so it takes nothing: only the heartbeat can
    keep the batch or see the cancel, and it stops the worker before the batch settles."""
    [entry] = await _job(redis, 1)
    clock = Ticks()
    gate = asyncio.Event()
    processor = StandIn(gate)
    worker = _worker(redis, processor, capacity=1, stop=StopSignal(clock))
    running = asyncio.ensure_future(worker.run())
    await processor.started.wait()
    await redis.xclaim(KEYS.batches, GROUP, "w", 0, [entry], idle=GIVEN_BACK_MS, justid=True)
    await clock.tick()
    assert (await _pending(redis))[entry][1] < GIVEN_BACK_MS  # kept: its idle time reset
    assert await redis.hget(KEYS.workers, "w|seen") is not None
    assert not worker.stop_signal.is_set
    await redis.hset(KEYS.meta, "state", "cancelled")
    await clock.tick()
    assert worker.stop_signal.reason == JOB_CANCELLED and worker.result.cancelled
    gate.set()
    result = await running
    assert result.cancelled and result.batches == 1 and not result.finished


async def test_a_settle_that_finds_the_job_gone_raises_job_gone(redis: Any) -> None:
    """Redis restarted without persistence while a batch is sent. The turn's one batch is
    taken and nothing after it: only the settle can notice that the job is gone."""
    await _job(redis, 2)

    async def lose_the_job(ids: list[str]) -> None:
        await redis.delete(*KEYS.all())

    worker = _worker(redis, Scripted(before=lose_the_job), turn=1, capacity=1)
    with pytest.raises(JobGoneError, match=JOB):
        await worker.run()
    assert worker.result.late == 0
    assert await redis.keys(KEYS.pattern) == []  # the worker did not bring any of it back


async def test_a_worker_started_before_its_job_waits_for_it_and_says_so_once(redis: Any) -> None:
    said: list[None] = []
    created: list[asyncio.Task[Any]] = []

    def on_wait() -> None:
        said.append(None)
        created.append(asyncio.ensure_future(_job(redis, 1)))

    result = await _worker(redis, StandIn(), on_wait=on_wait).run()
    assert said == [None]
    assert result.finished and result.batches == 1


async def test_a_worker_stopped_while_it_waits_for_its_job_returns(redis: Any) -> None:
    worker = _worker(redis, StandIn())
    worker.on_wait = worker.stop
    result = await worker.run()
    assert (result.taken, result.batches, result.finished, result.cancelled) == (0, 0, False, False)
    assert await redis.exists(KEYS.meta) == 0
