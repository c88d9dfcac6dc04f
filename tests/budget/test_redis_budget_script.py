"""The budget's Lua script against a real redis-server, on an injected server time.

``now`` is passed in (seconds since the script's epoch) so that the arithmetic is exact; one
test checks that without it the script reads the server's ``TIME``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from bulkdel.budget import controller
from bulkdel.budget import redis_scripts as rs
from tests.redis_server import RedisServer

KEY = "private_test_key_0123456789"
T0 = 1000.0


@dataclass
class Script:
    """Calls of budget.lua on one account, with injected time."""

    client: Redis
    keys: list[str]
    cfg: str

    async def take(self, now: float | None, pending: tuple[float, ...] = ()) -> rs.Reply:
        args = rs.take_args(self.cfg, list(pending), now)
        return rs.Reply.parse(await self.client.evalsha(self.sha, 3, *self.keys, *args))

    async def count(self, now: float, pending: tuple[float, ...]) -> rs.Reply:
        args = rs.take_args(self.cfg, list(pending), now, reserve=False)
        return rs.Reply.parse(await self.client.evalsha(self.sha, 3, *self.keys, *args))

    async def report(
        self,
        now: float,
        granted_at: float,
        refused: bool = True,
        *,
        limit: int | None = None,
        interval: float | None = None,
        retry_after: float | None = None,
    ) -> rs.Reply:
        args = rs.report_args(
            self.cfg,
            granted_at,
            refused,
            limit=limit,
            interval=interval,
            retry_after=retry_after,
            now=now,
        )
        return rs.Reply.parse(await self.client.evalsha(self.sha, 3, *self.keys, *args))

    sha: str = ""


async def _script(
    server: RedisServer, rate: float | None, *, slow_start: bool = True
) -> AsyncIterator[Script]:
    client = Redis.from_url(server.url)
    cfg = rs.config(rate, slow_start=slow_start)
    script = Script(client, rs.keys(rs.key_prefix("https://api.example", KEY)), cfg)
    script.sha = await client.script_load(rs.SOURCE)
    try:
        yield script
    finally:
        await client.aclose()


@pytest.fixture
async def fixed10(redis_server: RedisServer) -> AsyncIterator[Script]:
    """The script with the account paced at a fixed 10 requests/s."""
    async for script in _script(redis_server, 10.0):
        yield script


@pytest.fixture
async def adaptive(redis_server: RedisServer) -> AsyncIterator[Script]:
    """The script with the adaptive controller."""
    async for script in _script(redis_server, None):
        yield script


@pytest.fixture
async def unstarted(redis_server: RedisServer) -> AsyncIterator[Script]:
    """The adaptive controller without the slow start: unpaced until the first 429."""
    async for script in _script(redis_server, None, slow_start=False):
        yield script


async def test_gcra_spaces_slots_by_the_interval_and_reserves_only_within_the_horizon(
    fixed10: Script,
) -> None:
    slots = []
    for _ in range(6):
        reply = await fixed10.take(T0)
        assert reply.verdict == "go"
        slots.append(reply.slot)
    assert slots == pytest.approx([T0, T0 + 0.1, T0 + 0.2, T0 + 0.3, T0 + 0.4, T0 + 0.5])
    refused = await fixed10.take(T0)
    assert (refused.verdict, refused.slot) == ("wait", None)
    assert refused.delay == pytest.approx(0.6)
    later = await fixed10.take(T0 + 0.2)  # the refusal reserved nothing
    assert later.slot == pytest.approx(T0 + 0.6)
    assert later.delay == pytest.approx(0.4)


async def test_gcra_lets_a_tenth_of_a_second_through_at_once_then_paces(
    redis_server: RedisServer,
) -> None:
    async for script in _script(redis_server, 100.0):
        delays = [(await script.take(T0)).delay for _ in range(12)]
        assert delays[:10] == [0.0] * 10
        assert delays[10:] == pytest.approx([0.01, 0.02])
        idle = await script.take(T0 + 5)  # an idle account banks no more than the burst
        assert (idle.delay, idle.slot) == (0.0, T0 + 5)


async def test_a_stated_429_closes_the_gate_and_pushes_the_slots_to_it(adaptive: Script) -> None:
    first = await adaptive.take(T0)
    closed = await adaptive.report(
        T0 + 0.01, first.slot or 0, limit=100, interval=1.0, retry_after=2
    )
    assert closed.gate == pytest.approx(T0 + 2.01)
    assert closed.rate == pytest.approx(100 * 0.985)
    shut = await adaptive.take(T0 + 0.02)
    assert shut.verdict == "wait"
    assert shut.delay == pytest.approx(1.99)
    slots = [(await adaptive.take(T0 + 1.8)).slot for _ in range(3)]
    interval = 1 / (100 * 0.985)
    # Back paced at the gate, not all at once: no burst is banked behind a closed gate.
    assert slots == pytest.approx([T0 + 2.01, T0 + 2.01 + interval, T0 + 2.01 + 2 * interval])


async def test_the_gate_only_moves_later(adaptive: Script) -> None:
    await adaptive.report(T0, T0, limit=100, interval=1.0, retry_after=3)
    sooner = await adaptive.report(T0 + 1, T0, limit=100, interval=1.0, retry_after=1)
    assert sooner.gate == pytest.approx(T0 + 3)
    later = await adaptive.report(T0 + 1, T0, limit=100, interval=1.0, retry_after=4)
    assert later.gate == pytest.approx(T0 + 5)


async def test_a_long_window_is_spent_as_a_quota_from_its_stated_reset(unstarted: Script) -> None:
    adaptive = unstarted
    spent = await adaptive.report(T0, T0, limit=10, interval=15.0, retry_after=5)
    assert (spent.rate, spent.gate) == (None, pytest.approx(T0 + 5))  # no pace: a quota
    slots = [(await adaptive.take(T0 + 4.6)).slot for _ in range(9)]  # 99% of 10
    assert slots == [pytest.approx(T0 + 5)] * 9
    next_window = await adaptive.take(T0 + 4.6)
    assert next_window.verdict == "wait"
    assert next_window.delay == pytest.approx(15.4)
    assert (await adaptive.take(T0 + 19.7)).slot == pytest.approx(T0 + 20)
    assert (await adaptive.take(T0 + 50)).slot == pytest.approx(T0 + 50)  # windows move on
    late = await adaptive.report(T0 + 50, T0 + 50, limit=10, interval=15.0, retry_after=1)
    assert late.rate is None  # a spent long window says nothing about the pace


async def test_a_429_without_a_stated_window_closes_no_gate(adaptive: Script) -> None:
    reply = await adaptive.report(T0, T0, retry_after=5)
    assert reply.gate is None
    assert (await adaptive.take(T0)).verdict == "go"


async def test_a_fixed_pace_keeps_its_rate_but_a_stated_429_still_closes_the_gate(
    fixed10: Script,
) -> None:
    for _ in range(5):
        unstated = await fixed10.report(T0, T0)
    assert (unstated.rate, unstated.gate) == (10.0, None)
    stated = await fixed10.report(T0, T0, limit=5, interval=1.0, retry_after=1)
    assert (stated.rate, stated.gate) == (10.0, pytest.approx(T0 + 1))


async def _refuse(script: Script, now: float, granted_at: float, times: int) -> rs.Reply:
    reply = None
    for _ in range(times):
        reply = await script.report(now, granted_at)
    assert reply is not None
    return reply


async def test_unpaced_until_the_first_429_then_paced_from_what_was_sent(
    unstarted: Script,
) -> None:
    adaptive = unstarted
    for i in range(100):  # 100 turns in the first second
        reply = await adaptive.take(T0 + i / 100)
        assert (reply.verdict, reply.delay, reply.rate) == ("go", 0.0, None)
    paced = await adaptive.report(T0 + 1, T0 + 0.99)
    # Nothing has been counted as answered yet: half of what was sent.
    assert paced.rate == pytest.approx(50.0)


async def test_a_429_granted_before_the_last_slow_down_is_no_new_signal(unstarted: Script) -> None:
    adaptive = unstarted
    for i in range(100):
        await adaptive.take(T0 + i / 100)
    slowed = await adaptive.report(T0 + 1, T0 + 0.99)  # epoch starts at T0 + 1
    stale = await _refuse(adaptive, T0 + 1.1, T0 + 1, 25)  # granted as the pace changed
    assert stale.rate == slowed.rate
    await adaptive.count(T0 + 1.2, (T0 + 1.05,) * 17)
    fresh = await _refuse(adaptive, T0 + 1.2, T0 + 1.05, 3)  # 3 of 20 answers: 15%
    assert fresh.rate is not None
    assert slowed.rate is not None
    assert fresh.rate == pytest.approx(slowed.rate * 0.85 * 1.02)


async def test_one_bad_epoch_cuts_to_a_quarter_at_most(unstarted: Script) -> None:
    adaptive = unstarted
    for i in range(100):
        await adaptive.take(T0 + i / 100)
    slowed = await adaptive.report(T0 + 1, T0 + 0.99)
    assert slowed.rate == pytest.approx(50.0)
    refused = await _refuse(adaptive, T0 + 1.2, T0 + 1.05, 20)  # every answer a 429
    assert refused.rate == pytest.approx(50.0 * (1 - controller.MAX_CUT))


async def test_successes_counted_with_a_turn_raise_the_pace_after_an_epoch(
    unstarted: Script,
) -> None:
    adaptive = unstarted
    for i in range(100):
        await adaptive.take(T0 + i / 100)
    start = await adaptive.report(T0 + 1, T0 + 0.99)
    assert start.rate == pytest.approx(50.0)
    granted = tuple(T0 + 1 + i / 50 for i in range(50))
    for g in granted:
        await adaptive.take(g)
    # Fewer than 20 answers: no probe yet, however long the epoch.
    assert (await adaptive.count(T0 + 2, granted[:10])).rate == pytest.approx(50.0)
    # 20 and more after a second: up by 10% (far under the pace last refused, 100).
    raised = await adaptive.count(T0 + 2, granted[10:])
    assert raised.rate == pytest.approx(55.0)


async def test_a_stated_limit_is_a_ceiling_for_ten_minutes(adaptive: Script) -> None:
    await adaptive.take(T0)
    capped = await adaptive.report(T0, T0, limit=20, interval=1.0, retry_after=0.5)
    assert capped.rate == pytest.approx(19.7)
    granted = tuple(T0 + 1 + i / 20 for i in range(40))
    for g in granted:
        await adaptive.take(g)
    held = await adaptive.count(T0 + 3, granted)
    assert held.rate == pytest.approx(19.7)  # a probe never passes the stated limit
    granted = tuple(T0 + 602 + i / 20 for i in range(40))
    for g in granted:
        await adaptive.take(g)
    probed = await adaptive.count(T0 + 604, granted)
    assert probed.rate is not None
    assert probed.rate > 19.7  # forgotten after ten minutes without a stated 429


async def test_without_an_injected_time_the_script_reads_the_servers_clock(
    adaptive: Script,
) -> None:
    seconds, micros = await adaptive.client.time()
    reply = await adaptive.take(None)
    after_s, after_us = await adaptive.client.time()
    before = seconds - rs.EPOCH + micros / 1e6
    after = after_s - rs.EPOCH + after_us / 1e6
    assert before <= reply.now <= after
    assert reply.slot == reply.now


async def test_the_keys_carry_a_hash_tag_never_the_key(adaptive: Script) -> None:
    prefix = rs.key_prefix("https://api.example/", KEY)
    assert prefix == rs.key_prefix("https://api.example", KEY)
    assert prefix != rs.key_prefix("https://api.example", KEY + "x")
    assert prefix != rs.key_prefix("https://other.example", KEY)
    assert prefix.startswith("bulkdel:{") and prefix.endswith("}:")
    await adaptive.take(T0)
    await adaptive.report(T0, T0, limit=20, interval=1.0, retry_after=1)
    await adaptive.count(T0, (T0,))
    stored = [key.decode() for key in await adaptive.client.keys("*")]
    assert sorted(stored) == sorted(adaptive.keys)
    assert all(key.startswith(prefix) and KEY not in key for key in stored)
    assert KEY.encode() not in repr(await adaptive.client.hgetall(adaptive.keys[0])).encode()
    for key in stored:
        assert await adaptive.client.pttl(key) > 0  # an unused account's state goes


# -- the slow start -----------------------------------------------------------------------


async def test_a_new_account_starts_slow_and_a_round_of_answers_doubles_it(
    adaptive: Script,
) -> None:
    """The first turns go at ``START_RATE`` (a tenth of a second of them at once); the
    first answer sets one turn in flight per round trip (a second waits for an answer), and
    a round of answers, none refused, doubles it, as ``PaceController`` does."""
    first = [await adaptive.take(T0) for _ in range(6)]
    assert [r.delay for r in first[:5]] == [0.0] * 5
    assert first[5].delay == pytest.approx(1 / controller.START_RATE)
    assert first[0].rate == controller.START_RATE
    granted = tuple(r.slot or 0.0 for r in first)
    answered = await adaptive.count(T0 + 0.004, granted[:5])
    assert answered.rate == pytest.approx(1 / 0.004)
    assert (await adaptive.take(T0 + 0.005)).verdict == "wait"  # the sixth is in flight
    now = granted[5] + 0.004
    reply = await adaptive.count(now, granted[5:])
    rounds = 0
    while reply.rate == pytest.approx(1 / 0.004):
        turn = await adaptive.take(now)
        assert turn.verdict == "go"
        assert (await adaptive.take(turn.now)).verdict == "wait"  # the window is full
        now = (turn.slot or now) + 0.004
        reply = await adaptive.count(now, (turn.slot or now,))
        rounds += 1
    assert rounds <= controller.START_ANSWERS
    assert reply.rate == pytest.approx(2 / 0.004)  # a window of 2


async def test_the_slow_start_ends_unpaced_when_the_jobs_use_less_than_half(
    adaptive: Script,
) -> None:
    """Jobs that send a fiftieth of the pace (one turn every 50 ms, answered in 1 ms) are
    held back by their concurrency: unpaced after a round."""
    for i in range(controller.START_ANSWERS + 1):
        slot = (await adaptive.take(T0 + i / 20)).slot or 0.0
        ended = await adaptive.count(slot + 0.001, (slot,))
    assert ended.rate is None
    assert (await adaptive.take(T0 + 10.0)).rate is None
