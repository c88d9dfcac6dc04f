"""The budget script runs the same arithmetic as the in-process ``Pace`` and ``PaceController``.

Seeded random runs of grants and answers (successes, 429s with and without a stated window,
long windows, 5xx) go through both, on the same times; after every step the pace and the gate
must agree. A change of the controller's rules that the script does not follow fails here.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bulkdel.budget import redis_scripts as rs
from bulkdel.budget.controller import PaceController
from bulkdel.budget.pace import Pace
from bulkdel.models import Kind, Outcome
from tests.redis_server import RedisServer

T0 = 1000.0


class Mirror:
    """One account on both sides: the Python ``Pace`` and the script in Redis."""

    def __init__(self, client: Redis, sha: str, rate: float | None, seed: int) -> None:
        self.client, self.sha = client, sha
        self.keys = rs.keys(rs.key_prefix("https://api.example", f"key{seed}"))
        self.cfg = rs.config(rate)
        self.pace = Pace(None if rate is None else PaceController.fixed_at(rate))
        self.now = T0
        self.granted: list[float] = []

    async def call(self, args: list[str]) -> rs.Reply:
        return rs.Reply.parse(await self.client.evalsha(self.sha, 3, *self.keys, *args))

    def check(self, reply: rs.Reply) -> None:
        expected = self.pace.rate
        assert (reply.rate is None) == (expected is None)
        if expected is not None:
            assert reply.rate == pytest.approx(expected, rel=1e-9)
        gate = self.pace.gate_until
        assert (reply.gate is None) == math.isinf(gate)
        if reply.gate is not None:
            assert reply.gate == pytest.approx(gate, abs=2e-6)

    async def take(self) -> None:
        # Go to the slot (the next whole microsecond): the script would reserve it, Python
        # waits for it.
        while (wait := self.pace.wait(self.now)) > 0:
            self.now = (math.floor((self.now + wait) * 1e6) + 1) / 1e6
        reply = await self.call(rs.take_args(self.cfg, [], self.now))
        assert reply.verdict == "go"
        assert reply.slot is not None
        # The script rounds a slot up to a whole microsecond: on the very boundary (a pace
        # whose period is no whole number of microseconds) it may say one microsecond later.
        assert 0.0 <= reply.slot - self.now <= 1.01e-6
        self.now = reply.slot
        self.granted.append(self.pace.grant(self.now))
        self.check(reply)

    async def answer(self, outcome: Outcome, rng: random.Random) -> None:
        granted = rng.choice(self.granted[-rng.choice([1, 3, 30]) :])
        self.pace.observe(self.now, granted, outcome)
        if outcome.kind is Kind.THROTTLED:
            args = rs.report_args(
                self.cfg,
                granted,
                refused=True,
                limit=outcome.limit,
                interval=outcome.interval,
                retry_after=outcome.retry_after,
                now=self.now,
            )
        elif outcome.kind is Kind.TRANSIENT:
            # no rate signal: only leaves the slow start's window, as the budget sends it
            args = rs.take_args(self.cfg, [-granted], self.now, reserve=False)
        else:
            args = rs.take_args(self.cfg, [granted], self.now, reserve=False)
        self.check(await self.call(args))


def _outcome(rng: random.Random, share_429: float) -> Outcome:
    roll = rng.random()
    if roll < share_429 * 0.5:
        return Outcome(Kind.THROTTLED, 429, retry_after=1.0)
    if roll < share_429 * 0.8:
        limit = rng.choice([50, 80, 200])
        reset = rng.choice([0.2, 0.5, 1.0])
        return Outcome(Kind.THROTTLED, 429, retry_after=reset, limit=limit, interval=1.0)
    if roll < share_429:
        return Outcome(Kind.THROTTLED, 429, retry_after=3.0, limit=500, interval=15.0)
    if roll < share_429 + 0.03:
        return Outcome(Kind.TRANSIENT, rng.choice([502, None]))
    return Outcome(Kind.SUCCESS, 200)


@pytest.fixture
async def script(redis_server: RedisServer) -> AsyncIterator[tuple[Redis, str]]:
    """A client of a private Redis and the script's SHA."""
    client = Redis.from_url(redis_server.url)
    try:
        yield client, await client.script_load(rs.SOURCE)
    finally:
        await client.aclose()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("rate", [None, 40.0])
async def test_the_script_follows_the_python_pace(
    script: tuple[Redis, str], seed: int, rate: float | None
) -> None:
    rng = random.Random(seed)
    mirror = Mirror(*script, rate, seed)
    share_429 = rng.choice([0.01, 0.05, 0.2])
    steps = rng.choice([(0, 0, 0.001, 0.004, 0.02, 0.3), (0, 0.005, 0.01, 0.05)])
    for _ in range(800):
        mirror.now = round(mirror.now + rng.choice(steps), 6)
        if not mirror.granted or rng.random() < 0.55:
            await mirror.take()
        else:
            await mirror.answer(_outcome(rng, share_429), rng)


@pytest.mark.parametrize("seed", range(4))
async def test_the_script_follows_the_slow_start_to_its_end(
    script: tuple[Redis, str], seed: int
) -> None:
    """No 429 at all: the slow start's windows, its round trips, answers lost to 5xx and
    its unpaced end agree on both sides."""
    rng = random.Random(seed)
    mirror = Mirror(*script, None, 100 + seed)
    ended = False
    for _ in range(600):
        mirror.now = round(mirror.now + rng.choice((0, 0.0005, 0.001, 0.003)), 6)
        if not mirror.granted or rng.random() < 0.5:
            await mirror.take()
        else:
            await mirror.answer(_outcome(rng, 0.0), rng)
        ended = ended or not mirror.pace.controller.starting
    assert ended


@pytest.mark.parametrize("seed", range(3))
async def test_the_script_follows_probes_without_refusals(
    script: tuple[Redis, str], seed: int
) -> None:
    """After one bare 429 (paced from then on), answers without a refusal: the probes in a
    row, their doubling steps and their shorter epochs agree on both sides."""
    rng = random.Random(seed)
    mirror = Mirror(*script, None, 200 + seed)
    await mirror.take()
    await mirror.answer(Outcome(Kind.THROTTLED, 429, retry_after=0.01), rng)
    most = 0
    for _ in range(900):
        mirror.now = round(mirror.now + rng.choice((0, 0.005, 0.01, 0.02)), 6)
        if rng.random() < 0.5:
            await mirror.take()
        else:
            await mirror.answer(_outcome(rng, 0.0), rng)
        most = max(most, mirror.pace.controller.clean)
    assert most >= 3
