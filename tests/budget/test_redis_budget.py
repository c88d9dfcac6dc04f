"""RedisBudget against a real redis-server: fairness, stop, release, outages, round trips."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bulkdel.budget import Turn
from bulkdel.budget.controller import START_RATE
from bulkdel.budget.redis import MAX_PENDING, RedisBudget, RedisLease, _RoundRobin
from bulkdel.core.redis_connection import RedisWait
from bulkdel.core.stop import StopSignal
from bulkdel.errors import Stopped, UsageError
from bulkdel.models import Abort, AbortReason, Kind, Outcome
from tests.redis_server import RedisServer, require_redis

KEY = "private_test_key_0123456789"
BASE = "https://api.example"
OK = Outcome(Kind.SUCCESS, 200)
STATED_429 = Outcome(Kind.THROTTLED, 429, retry_after=30.0, limit=100, interval=1.0)


@pytest.fixture
async def budget(redis_server: RedisServer) -> AsyncIterator[RedisBudget]:
    """An adaptive budget on a private Redis."""
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY) as made:
        yield made


async def _grants(leases: list[RedisLease], total: int, waiters: list[int]) -> list[int]:
    """Run ``waiters[i]`` turn loops on lease i until ``total`` turns; who got each turn."""
    order: list[int] = []

    async def loop(index: int) -> None:
        while len(order) < total:
            await leases[index].turn()
            order.append(index)

    tasks = [asyncio.create_task(loop(i)) for i, n in enumerate(waiters) for _ in range(n)]
    while len(order) < total:
        await asyncio.sleep(0.005)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return order[:total]


async def test_leases_of_one_process_take_turns_round_robin_whatever_their_concurrency(
    redis_server: RedisServer,
) -> None:
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY, rate=2000) as budget:
        stop = StopSignal()
        order = await _grants([budget.lease(stop), budget.lease(stop)], 60, waiters=[8, 1])
    counts = Counter(order[2:])  # the first turns go to whoever asked first
    assert abs(counts[0] - counts[1]) <= 1


async def test_budgets_of_independent_processes_split_the_pace(redis_server: RedisServer) -> None:
    budgets = [
        RedisBudget(redis_server.url, base_url=BASE, private_key=KEY, rate=400) for _ in range(3)
    ]
    stop = StopSignal()
    order = await _grants([b.lease(stop) for b in budgets], 120, waiters=[4, 2, 1])
    for budget in budgets:
        await budget.aclose()
    counts = Counter(order)
    assert all(30 <= counts[i] <= 50 for i in range(3)), counts  # 40 each, within 25%


async def test_a_turn_carries_the_successes_so_a_request_costs_one_round_trip(
    budget: RedisBudget,
) -> None:
    lease = budget.lease(StopSignal())
    for _ in range(10):
        turn = await lease.turn()
        await lease.observe(turn, OK)
        await lease.observe(turn, Outcome(Kind.TRANSIENT, 502))  # no rate signal: not sent
        await lease.observe(turn, Outcome(Kind.TRANSIENT, None))
    assert budget.round_trips == 10
    await lease.release()  # counts the last one
    assert budget.round_trips == 11
    await lease.release()
    assert budget.round_trips == 11


async def test_many_successes_without_a_turn_are_counted_on_their_own(budget: RedisBudget) -> None:
    lease = budget.lease(StopSignal())
    turn = await lease.turn()
    for _ in range(MAX_PENDING - 1):
        await lease.observe(turn, OK)
    assert budget.round_trips == 1
    await lease.observe(turn, OK)
    assert budget.round_trips == 2


async def test_a_fixed_pace_sends_only_the_429s_that_close_the_gate(
    redis_server: RedisServer,
) -> None:
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY, rate=50) as budget:
        lease = budget.lease(StopSignal())
        turn = await lease.turn()
        await lease.observe(turn, OK)
        await lease.observe(turn, Outcome(Kind.THROTTLED, 429, retry_after=1.0))
        await lease.release()
        assert budget.round_trips == 1
        await budget.lease(StopSignal()).observe(turn, STATED_429)
        assert budget.round_trips == 2
        assert budget.gate_wait() > 29
        assert budget.rate == 50


async def test_a_stated_429_closes_the_gate_for_every_lease_and_a_stop_ends_the_wait(
    budget: RedisBudget,
) -> None:
    first, other = budget.lease(StopSignal()), StopSignal()
    turn = await first.turn()
    assert (budget.rate, budget.gate_wait()) == (START_RATE, 0.0)  # the slow start
    await first.observe(turn, STATED_429)
    assert budget.rate == pytest.approx(98.5)
    assert 29 < budget.gate_wait() <= 30
    waiting = asyncio.create_task(budget.lease(other).turn())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    other.set(Abort(AbortReason.STOPPED))
    with pytest.raises(Stopped):
        await waiting


async def test_a_released_lease_stops_its_waiters_and_others_go_on(
    redis_server: RedisServer,
) -> None:
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY, rate=20) as budget:
        stop = StopSignal()
        leaving, staying = budget.lease(stop), budget.lease(stop)
        await leaving.turn()
        queued = [asyncio.create_task(leaving.turn()) for _ in range(3)]
        other = asyncio.create_task(staying.turn())
        await asyncio.sleep(0)
        await leaving.release()
        for task in queued:
            with pytest.raises(Stopped):
                await task
        assert isinstance(await other, Turn)
        with pytest.raises(Stopped):
            await leaving.turn()


async def test_a_stopped_job_reports_nothing_and_its_429_is_dropped(
    redis_server: RedisServer,
) -> None:
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY) as budget:
        stop = StopSignal()
        lease = budget.lease(stop)
        turn = await lease.turn()
        stop.set(Abort(AbortReason.STOPPED))
        redis_server.stop()  # the report would wait for Redis, but the job is stopping
        await lease.observe(turn, STATED_429)
        with pytest.raises(Stopped):
            await lease.turn()


async def test_redis_down_grants_no_turn_until_it_answers_again(
    persistent_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = persistent_redis_server
    async with RedisBudget(server.url, base_url=BASE, private_key=KEY, rate=50) as budget:
        lease = budget.lease(StopSignal())
        await lease.turn()
        server.stop()
        with caplog.at_level(logging.WARNING, logger="bulkdel.redis"):
            waiting = asyncio.create_task(lease.turn())
            await asyncio.sleep(0.3)
            assert not waiting.done()  # fail closed: no turn while Redis is away
            await asyncio.to_thread(server.start)
            assert isinstance(await asyncio.wait_for(waiting, 30), Turn)
        messages = [r.getMessage() for r in caplog.records]
        # The outage names the Redis it waits for (issue 21), never the key.
        assert any(f"Redis at {server.url} does not answer" in m for m in messages)
        assert any("answers again" in m for m in messages)
        assert all(KEY not in m for m in messages)


async def test_a_stop_ends_the_wait_for_an_unreachable_redis(redis_server: RedisServer) -> None:
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY) as budget:
        stop = StopSignal()
        lease = budget.lease(stop)
        await lease.turn()
        await lease.observe(await lease.turn(), OK)
        redis_server.stop()
        waiting = asyncio.create_task(lease.turn())
        await asyncio.sleep(0.2)
        stop.set(Abort(AbortReason.INTERRUPTED, "SIGINT"))
        with pytest.raises(Stopped):
            await asyncio.wait_for(waiting, 10)
        await lease.release()  # ends although the held-back success cannot be counted


async def test_an_outage_past_the_wait_ends_the_job_as_fatal_naming_the_url(
    redis_server: RedisServer,
) -> None:
    """Past ``RedisWait.total`` the lease sets the job's stop (FATAL, the URL and the cause):
    the job ends with its report instead of waiting forever."""
    wait = RedisWait(redis_server.url, total=0.3)
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY, wait=wait) as b:
        stop = StopSignal()
        lease = b.lease(stop)
        await lease.turn()
        redis_server.stop()
        with pytest.raises(Stopped):
            await asyncio.wait_for(lease.turn(), 30)
        assert stop.reason is not None and stop.reason.reason is AbortReason.FATAL
        assert f"cannot use Redis at {redis_server.url}" in stop.reason.detail


async def test_a_refused_password_ends_the_job_at_once(tmp_path: Path) -> None:
    """A wrong password is not an outage (AuthenticationError is a ConnectionError)."""
    require_redis()
    server = RedisServer(tmp_path, extra=["--requirepass", "right-one"])
    server.start()
    try:
        url = f"redis://:wrong-one@127.0.0.1:{server.port}/0"
        async with RedisBudget(url, base_url=BASE, private_key=KEY) as budget:
            stop = StopSignal()
            with pytest.raises(Stopped):
                await asyncio.wait_for(budget.lease(stop).turn(), 30)
        assert stop.reason is not None and stop.reason.reason is AbortReason.FATAL
        assert "password was refused" in stop.reason.detail
        assert "wrong-one" not in stop.reason.detail and ":***@" in stop.reason.detail
    finally:
        server.stop()


async def test_a_release_while_redis_is_down_ends_at_once(redis_server: RedisServer) -> None:
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY) as budget:
        lease = budget.lease(StopSignal())
        await lease.observe(await lease.turn(), OK)
        redis_server.stop()
        await asyncio.wait_for(lease.release(), 10)  # the success is not counted: no wait


async def test_a_client_given_is_used_whatever_it_decodes_and_left_open(
    redis_server: RedisServer,
) -> None:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    async with RedisBudget(client, base_url=BASE, private_key=KEY, rate=5) as budget:
        turn = await budget.lease(StopSignal()).turn()
        assert turn.granted_at > 0
        assert budget.rate == 5
        assert KEY not in repr(budget)
    assert await client.ping()
    await client.aclose()


def test_a_pace_must_be_positive() -> None:
    with pytest.raises(UsageError, match="rate"):
        RedisBudget("redis://127.0.0.1:1/0", base_url=BASE, private_key=KEY, rate=0)


async def test_a_waiter_cancelled_as_the_head_reaches_it_passes_the_head_on() -> None:
    fair = _RoundRobin()
    await fair.acquire("a")
    handed = asyncio.create_task(fair.acquire("b"))
    await asyncio.sleep(0)
    fair.release()  # to b, which is cancelled before it runs again
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    await asyncio.wait_for(fair.acquire("c"), 1)  # the head is free, not lost


async def test_a_stop_leaves_no_turn_with_an_unretrieved_exception(
    redis_server: RedisServer,
) -> None:
    """A turn whose Redis call finishes although the stop cancelled it (seen on a worker's
    terminal after a 403: "Task exception was never retrieved" and a traceback) ends with
    nothing for asyncio to print."""
    import gc

    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    async with RedisBudget(redis_server.url, base_url=BASE, private_key=KEY, rate=5) as budget:
        original = budget._call
        in_call = asyncio.Event()

        async def slow(args: list[str], stop: StopSignal) -> object:
            await asyncio.sleep(0.05)
            return await original(args, stop)

        async def finishes_anyway(args: list[str], stop: StopSignal) -> object:
            call = asyncio.ensure_future(slow(args, stop))
            in_call.set()
            while True:
                try:
                    return await asyncio.shield(call)
                except asyncio.CancelledError:
                    continue

        budget._call = finishes_anyway  # type: ignore[method-assign]
        stop = StopSignal()
        waiting = asyncio.create_task(budget.lease(stop).turn())
        await in_call.wait()
        stop.set(Abort(AbortReason.FATAL, "HTTP 403"))
        ended = await asyncio.gather(waiting, return_exceptions=True)
        assert isinstance(ended[0], Stopped)
        del waiting, ended  # their traceback holds the turn's inner task
        await asyncio.sleep(0.2)
        gc.collect()
        await asyncio.sleep(0.01)
    assert not [c for c in reported if "never retrieved" in str(c.get("message"))]
