"""LocalBudget on virtual time: fair turns between leases, the shared gate, release, stop,
cancellation, the per-job cap and the registry.

The jobs here are worker tasks against the fake server's own limiter (no HTTP): each takes a
turn, is answered ``LATENCY`` later, reports, and retries a 429.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from dataclasses import dataclass, field

import pytest

from bulkdel.budget import CappedLease, Lease, LocalBudget, budget_for
from bulkdel.budget.memory import _REGISTRY
from bulkdel.core.stop import StopSignal
from bulkdel.errors import Stopped
from bulkdel.imagekit.answers import classify
from bulkdel.models import Abort, AbortReason, Kind, Outcome
from bulkdel.testing.fake_limits import Limiter
from tests.virtual_time import VirtualTimeLoop, run_virtual

LATENCY = 0.015
OK = Outcome(Kind.SUCCESS, 200)


@dataclass
class Job:
    """What one job's workers got."""

    lease: Lease
    stop: StopSignal
    done: list[float] = field(default_factory=list)
    refused: int = 0
    stopped: bool = False


async def _worker(job: Job, limiter: Limiter, until: float) -> None:
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < until:
            turn = await job.lease.turn()
            headers = limiter.admit()
            await asyncio.sleep(LATENCY)
            if headers is None:
                job.done.append(loop.time())
                await job.lease.observe(turn, OK)
            else:
                job.refused += 1
                await job.lease.observe(turn, classify(429, b"{}", headers, ["x"]))
    except Stopped:
        job.stopped = True


def _jobs(budget: LocalBudget, count: int) -> list[Job]:
    jobs = []
    for _ in range(count):
        stop = StopSignal()
        jobs.append(Job(budget.lease(stop), stop))
    return jobs


async def _run(jobs: list[Job], limiter: Limiter, until: float, workers: list[int]) -> None:
    async with asyncio.TaskGroup() as group:
        for job, count in zip(jobs, workers, strict=True):
            for _ in range(count):
                group.create_task(_worker(job, limiter, until))


def _done_between(job: Job, start: float, end: float) -> int:
    return sum(1 for t in job.done if start <= t < end)


@pytest.mark.parametrize(("count", "workers"), [(2, [8, 2]), (8, [8, 1, 2, 3, 4, 5, 6, 7])])
def test_jobs_sharing_a_budget_split_it_fairly(count: int, workers: list[int]) -> None:
    """Together >= 0.95 R, each within 20% of a fair share whatever its concurrency, <= 2%
    of requests refused."""

    async def scenario() -> list[Job]:
        loop = asyncio.get_running_loop()
        limiter = Limiter(100.0, (), loop.time)
        budget = LocalBudget()
        jobs = _jobs(budget, count)
        await _run(jobs, limiter, 30.0, workers)
        return jobs

    jobs = run_virtual(scenario())
    done = [_done_between(job, 0.0, 30.0) for job in jobs]
    sent = sum(done) + sum(job.refused for job in jobs)
    assert sum(done) >= 0.95 * 100 * 30, done
    fair = sum(done) / count
    assert all(0.8 * fair <= d <= 1.2 * fair for d in done), done
    assert sum(job.refused for job in jobs) <= 0.02 * sent


def test_a_released_lease_gives_its_share_back_at_once() -> None:
    """Job A leaves at 10 s: job B gets the whole pace from then on."""

    async def scenario() -> list[Job]:
        loop = asyncio.get_running_loop()
        limiter = Limiter(100.0, (), loop.time)
        budget = LocalBudget(rate=100.0)
        first, second = _jobs(budget, 2)

        async def leave_at_ten() -> None:
            await asyncio.sleep(10.0)
            first.stop.set(Abort(AbortReason.STOPPED))
            await first.lease.release()

        async with asyncio.TaskGroup() as group:
            group.create_task(_run([first, second], limiter, 20.0, [8, 8]))
            group.create_task(leave_at_ten())
        return [first, second]

    first, second = run_virtual(scenario())
    assert first.stopped
    assert 400 <= _done_between(second, 2.0, 10.0) <= 480  # half of 100/s for 8 s
    assert _done_between(second, 10.2, 19.8) >= 0.95 * 100 * 9.6


def test_a_stop_ends_a_wait_for_a_turn() -> None:
    """Stopped is raised out of ``turn`` as soon as the job's stop is set."""

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        budget = LocalBudget(rate=1.0)
        stop = StopSignal()
        lease = budget.lease(stop)
        await lease.turn()  # the one turn of this second
        loop.call_later(0.25, stop.set, Abort(AbortReason.STOPPED))
        with pytest.raises(Stopped):
            await lease.turn()
        with pytest.raises(Stopped):
            await lease.turn()  # stays stopped
        return loop.time()

    assert run_virtual(scenario()) == pytest.approx(0.25)


def test_a_cancelled_waiter_leaves_the_rotation() -> None:
    """A task cancelled while waiting takes no turn; the next waiter gets it."""

    async def scenario() -> list[str]:
        budget = LocalBudget(rate=10.0)
        lease_a, lease_b = budget.lease(StopSignal()), budget.lease(StopSignal())
        order: list[str] = []
        while budget._grant_now() is not None:
            pass  # spend the burst

        async def take(lease: Lease, name: str) -> None:
            await lease.turn()
            order.append(name)

        a = asyncio.ensure_future(take(lease_a, "a"))
        b = asyncio.ensure_future(take(lease_b, "b"))
        await asyncio.sleep(0)
        a.cancel()
        await asyncio.gather(a, b, return_exceptions=True)
        await lease_a.release()
        return order

    assert run_virtual(scenario()) == ["b"]


def test_a_stated_429_holds_every_lease_until_the_reset() -> None:
    """One job's 429 shuts the gate for the other job too."""

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        budget = LocalBudget()
        lease_a, lease_b = budget.lease(StopSignal()), budget.lease(StopSignal())
        turn = await lease_a.turn()
        refused = Outcome(Kind.THROTTLED, 429, retry_after=2.0, limit=100, interval=1.0)
        await lease_a.observe(turn, refused)
        assert budget.gate_wait() == pytest.approx(2.0)
        await lease_b.turn()
        return loop.time()

    assert run_virtual(scenario()) == pytest.approx(2.0)


def test_a_capped_lease_keeps_its_cap_and_the_rest_goes_to_the_others() -> None:
    """Job A capped at 10/s gets 10/s; job B, uncapped, the rest of 100/s."""

    async def scenario() -> list[Job]:
        loop = asyncio.get_running_loop()
        limiter = Limiter(100.0, (), loop.time)
        budget = LocalBudget(rate=100.0)
        stop_a, stop_b = StopSignal(), StopSignal()
        capped = Job(CappedLease(budget.lease(stop_a), 10.0, stop_a), stop_a)
        free = Job(budget.lease(stop_b), stop_b)
        await _run([capped, free], limiter, 20.0, [8, 8])
        return [capped, free]

    capped, free = run_virtual(scenario())
    assert 9.0 * 18 <= _done_between(capped, 2.0, 20.0) <= 10.5 * 18
    assert _done_between(free, 2.0, 20.0) >= 0.95 * 90 * 18
    with pytest.raises(ValueError, match="rate must be > 0"):
        CappedLease(capped.lease, 0, capped.stop)


def test_a_fixed_rate_budget_paces_every_job_together() -> None:
    """``LocalBudget(rate=20)``: 20 turns a second for all its leases, 429s or not."""

    async def scenario() -> Counter[int]:
        loop = asyncio.get_running_loop()
        budget = LocalBudget(rate=20.0)
        leases = [budget.lease(StopSignal()) for _ in range(3)]
        seconds: Counter[int] = Counter()

        async def take(lease: Lease) -> None:
            while loop.time() < 5.0:
                turn = await lease.turn()
                seconds[int(loop.time())] += 1
                await lease.observe(turn, Outcome(Kind.THROTTLED, 429, retry_after=0.0))

        await asyncio.gather(*(take(lease) for lease in leases))
        assert budget.rate == 20.0
        return seconds

    seconds = run_virtual(scenario())
    assert all(19 <= seconds[s] <= 22 for s in range(1, 5)), seconds


def test_jobs_of_one_account_share_one_budget_held_weakly() -> None:
    """Same base URL and key: one budget; another key: another; unused: gone. The registry
    holds a hash of the key, never the key."""
    first = budget_for("https://api.imagekit.io/", "private_one")
    assert budget_for("https://api.imagekit.io", "private_one") is first
    other = budget_for("https://api.imagekit.io", "private_two")
    assert other is not first
    assert not any("private_one" in part for key in _REGISTRY for part in key)
    assert "private" not in repr(first)
    gc.collect()  # a budget an earlier test left in a reference cycle is not counted
    count = len(_REGISTRY)
    del first, other
    gc.collect()
    assert len(_REGISTRY) == count - 2


def test_a_budget_outlives_the_loop_it_first_ran_on() -> None:
    """A registry budget whose dispatcher was left on a loop closed under it (a budget
    outlives ``asyncio.run``) still hands out turns on the next loop."""
    budget = LocalBudget(rate=10.0)
    closed = VirtualTimeLoop()
    budget._dispatcher = closed.create_future()  # type: ignore[assignment]
    closed.close()

    async def take(count: int) -> float:
        lease = budget.lease(StopSignal())
        for _ in range(count):
            await lease.turn()
        return asyncio.get_running_loop().time()

    assert run_virtual(take(3)) == pytest.approx(0.2)
