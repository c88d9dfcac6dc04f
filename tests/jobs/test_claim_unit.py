"""``bulkdel.jobs.claim.Claims`` on its own, against a private redis-server: a take, a
takeover, the heartbeat and a give-back, each seen in the consumer group it changes.

The job is laid out by hand (metadata, consumer group, batches), not by a submit, so that
only ``Claims`` is under test."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from bulkdel.core.redis_connection import RedisWait
from bulkdel.core.stop import StopSignal
from bulkdel.errors import JobGoneError, Stopped
from bulkdel.jobs import connect
from bulkdel.jobs.claim import Claims, JobCancelled
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.models import Abort, AbortReason
from tests.redis_server import RedisServer

T = TypeVar("T")
KEYS = JobKeys.of("claims")
#: a visibility timeout no batch of these tests reaches unless it is given back
HOUR = 3600.0


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


async def _job(redis: Any, batches: int, state: str = "submitting") -> list[str]:
    """A job with ``batches`` batches on its stream; their entry ids, in order."""
    await redis.hset(KEYS.meta, mapping={"state": state})
    await redis.xgroup_create(KEYS.batches, GROUP, id="0", mkstream=True)
    return [await redis.xadd(KEYS.batches, {"ids": f"id{n}a id{n}b"}) for n in range(batches)]


def _claims(redis: Any, name: str, visibility: float = HOUR, wait: Any = None) -> Claims:
    return Claims(redis, KEYS, name, visibility, wait or RedisWait("redis://x"), block=0.0)


async def _owners(redis: Any) -> dict[str, tuple[str, int]]:
    """Every pending batch: its consumer and how many times it was delivered."""
    rows = await redis.xpending_range(KEYS.batches, GROUP, "-", "+", 1000)
    return {r["message_id"]: (r["consumer"], r["times_delivered"]) for r in rows}


async def _idle_ms(redis: Any, entry: str) -> int:
    rows = await redis.xpending_range(KEYS.batches, GROUP, entry, entry, 1)
    return int(rows[0]["time_since_delivered"])


class LostAnswer:
    """A ``RedisWait`` whose first call reaches Redis and loses its answer (a connection
    dropped after the script ran): the operation is run again, as an outage's retry is."""

    async def call(self, operation: Callable[[], Awaitable[T]], stop: StopSignal) -> T:
        await operation()
        return await operation()


class SettledMeanwhile(LostAnswer):
    """``LostAnswer``, and the worker's batch ``entry`` settles (leaves ``held``) while the
    retry's answer is on its way: the retry read it from Redis while it was still pending."""

    def __init__(self, held: set[str], entry: str) -> None:
        self.held = held
        self.entry = entry

    async def call(self, operation: Callable[[], Awaitable[T]], stop: StopSignal) -> T:
        answer = await super().call(operation, stop)
        self.held.discard(self.entry)
        return answer


# -- take -----------------------------------------------------------------------------------


async def test_a_take_hands_out_new_batches_in_order_each_to_one_worker(redis: Any) -> None:
    entries = await _job(redis, 5)
    a, b = _claims(redis, "a"), _claims(redis, "b")
    got_a = await a.read(3, StopSignal(), set())
    got_b = await b.read(3, StopSignal(), set())
    assert [e for e, _ in got_a] == entries[:3]
    assert [e for e, _ in got_b] == entries[3:]
    assert got_a[0][1] == {"ids": "id0a id0b"}
    assert await a.read(3, StopSignal(), set()) == []  # nothing new: no wait with block 0
    owners = await _owners(redis)
    assert {e: o for e, (o, _) in owners.items()} == {
        **dict.fromkeys(entries[:3], "a"),
        **dict.fromkeys(entries[3:], "b"),
    }


async def test_a_blocking_take_returns_the_batch_that_arrives_while_it_waits(
    redis: Any,
) -> None:
    await _job(redis, 0)
    claims = _claims(redis, "a")
    reading = asyncio.ensure_future(claims.read(2, StopSignal(), set(), block=30))
    await asyncio.sleep(0.05)
    entry = await redis.xadd(KEYS.batches, {"ids": "late"})
    got = await asyncio.wait_for(reading, 30)
    assert got == [(entry, {"ids": "late"})]


async def test_a_retried_take_hands_out_what_its_lost_answer_took_and_nothing_new(
    redis: Any,
) -> None:
    """The first run of the take took two batches and its answer was lost: the retry reads
    this worker's own pending batches again (not two more new ones), leaving out those it
    holds already."""
    entries = await _job(redis, 5)
    claims = _claims(redis, "a", wait=LostAnswer())
    got = await claims.read(2, StopSignal(), held={entries[0]})
    assert [e for e, _ in got] == [entries[1]]
    assert set(await _owners(redis)) == set(entries[:2])  # two taken, not four


@pytest.mark.parametrize("how", ["read", "take_over"])
async def test_a_retried_take_leaves_out_a_batch_settled_while_its_answer_came(
    redis: Any, how: str
) -> None:
    """A batch this worker held when it asked is never handed out by the answer, even if
    it was settled (no longer held) by the time the answer came. Fails before the fix: it
    came back as a batch to send, and its ids were sent a second time."""
    entries = await _job(redis, 5)
    await _claims(redis, "a").read(1, StopSignal(), set())
    held = {entries[0]}
    claims = _claims(redis, "a", 0.001, wait=SettledMeanwhile(held, entries[0]))
    if how == "read":
        got = await claims.read(2, StopSignal(), held)
        assert [e for e, _ in got] == entries[1:3]
    else:
        assert await claims.take_over(2, held, StopSignal()) == []


async def test_a_take_of_a_cancelled_job_raises_and_takes_nothing(redis: Any) -> None:
    await _job(redis, 3, state="cancelled")
    with pytest.raises(JobCancelled):
        await _claims(redis, "a").read(3, StopSignal(), set())
    assert await _owners(redis) == {}


async def test_a_take_of_a_job_gone_from_redis_raises_job_gone(redis: Any) -> None:
    await _job(redis, 1)
    await redis.delete(KEYS.meta)
    with pytest.raises(JobGoneError):
        await _claims(redis, "a").read(1, StopSignal(), set())


# -- arrival --------------------------------------------------------------------------------


async def test_arrival_waits_for_the_job_and_says_so_once(redis: Any) -> None:
    said: list[None] = []
    created: list[asyncio.Task[Any]] = []

    def on_wait() -> None:
        said.append(None)
        created.append(asyncio.ensure_future(redis.hset(KEYS.meta, "state", "submitting")))

    await _claims(redis, "a").arrival(0.01, StopSignal(), on_wait)
    assert said == [None]
    await _claims(redis, "a").arrival(0.01, StopSignal(), on_wait)  # there now: no word
    assert said == [None]


async def test_arrival_ends_with_stopped_when_the_stop_comes_first(redis: Any) -> None:
    stop = StopSignal()
    with pytest.raises(Stopped):
        await _claims(redis, "a").arrival(
            0.01, stop, lambda: stop.set(Abort(AbortReason.INTERRUPTED, "test"))
        )


# -- takeover and give-back -----------------------------------------------------------------


async def test_batches_within_their_visibility_timeout_are_not_taken_over(redis: Any) -> None:
    entries = await _job(redis, 2)
    await _claims(redis, "a").read(2, StopSignal(), set())
    assert await _claims(redis, "b").take_over(10, set(), StopSignal()) == []
    assert {o for o, _ in (await _owners(redis)).values()} == {"a"}
    assert set(await _owners(redis)) == set(entries)


async def test_given_back_batches_are_taken_over_at_once_delivered_once_more(
    redis: Any,
) -> None:
    entries = await _job(redis, 3)
    a, b = _claims(redis, "a"), _claims(redis, "b")
    await a.read(3, StopSignal(), set())
    await a.give_back(entries[:2])
    assert await _idle_ms(redis, entries[0]) >= 864_000_000  # past any visibility timeout
    assert await _idle_ms(redis, entries[2]) < 864_000_000  # not given back: kept
    taken = await b.take_over(10, set(), StopSignal())
    assert [e for e, _ in taken] == entries[:2]
    assert taken[0][1] == {"ids": "id0a id0b"}
    assert await _owners(redis) == {
        entries[0]: ("b", 2),
        entries[1]: ("b", 2),
        entries[2]: ("a", 1),
    }


async def test_a_takeover_leaves_out_the_batches_the_worker_holds(redis: Any) -> None:
    """An own batch comes back only when the heartbeat could not keep it: it is still being
    worked on here, so it is not handed out again."""
    entries = await _job(redis, 2)
    a = _claims(redis, "a")
    await a.read(2, StopSignal(), set())
    await a.give_back(entries)
    taken = await a.take_over(10, {entries[0]}, StopSignal())
    assert [e for e, _ in taken] == [entries[1]]


async def test_a_give_back_leaves_other_workers_batches_alone(redis: Any) -> None:
    entries = await _job(redis, 2)
    await _claims(redis, "a").read(1, StopSignal(), set())
    await _claims(redis, "b").read(1, StopSignal(), set())
    await _claims(redis, "a").give_back(entries)  # the second is b's
    assert await _idle_ms(redis, entries[1]) < 864_000_000
    assert await _claims(redis, "c").take_over(10, set(), StopSignal()) != []
    assert (await _owners(redis))[entries[1]] == ("b", 1)


async def test_a_give_back_that_cannot_reach_redis_only_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreachable = connect("redis://127.0.0.1:1/0")
    try:
        with caplog.at_level(logging.WARNING, "bulkdel.jobs"):
            await _claims(unreachable, "a").give_back(["1-0", "2-0"])
    finally:
        await unreachable.aclose()
    assert "could not give back 2 batches" in caplog.text


async def test_nothing_to_give_back_sends_nothing() -> None:
    """No Redis at all: an empty give-back must not call it."""

    class NoScripts:
        def register_script(self, source: str) -> Callable[..., Any]:
            def script(**_: Any) -> Any:
                raise AssertionError("called")

            return script

    await _claims(NoScripts(), "a").give_back([])


# -- heartbeat ------------------------------------------------------------------------------


async def test_a_heartbeat_keeps_the_workers_batches_without_a_new_delivery(
    redis: Any,
) -> None:
    entries = await _job(redis, 2)
    a = _claims(redis, "a")
    await a.read(2, StopSignal(), set())
    await a.give_back(entries)  # idle past any timeout: a takeover would take them now
    assert await a.heartbeat(set(entries), StopSignal()) == "submitting"
    assert await _claims(redis, "b").take_over(10, set(), StopSignal()) == []
    assert await _owners(redis) == {entries[0]: ("a", 1), entries[1]: ("a", 1)}
    assert await redis.hget(KEYS.workers, "a|seen")


async def test_a_heartbeat_does_not_take_back_a_batch_taken_over(redis: Any) -> None:
    entries = await _job(redis, 1)
    a = _claims(redis, "a")
    await a.read(1, StopSignal(), set())
    await a.give_back(entries)
    await _claims(redis, "b").take_over(10, set(), StopSignal())
    await a.heartbeat(set(entries), StopSignal())
    assert (await _owners(redis))[entries[0]][0] == "b"


async def test_a_heartbeat_says_the_jobs_state(redis: Any) -> None:
    await _job(redis, 0, state="cancelled")
    assert await _claims(redis, "a").heartbeat(set(), StopSignal()) == "cancelled"
    await redis.delete(KEYS.meta)
    with pytest.raises(JobGoneError):
        await _claims(redis, "a").heartbeat(set(), StopSignal())
