"""The slow start of a first contact: its rules on the pure controller (time passed in), and
what jobs sharing a ``LocalBudget`` draw on virtual time from the fake server's limiter."""

from __future__ import annotations

import asyncio

import pytest

from bulkdel.budget import LocalBudget
from bulkdel.budget import controller as ctl
from bulkdel.budget.controller import PaceController
from bulkdel.budget.pace import Pace
from bulkdel.core.stop import StopSignal
from bulkdel.imagekit.answers import classify
from bulkdel.models import Kind, Outcome
from bulkdel.testing.fake_limits import Limiter, LimitHeaders
from tests.virtual_time import run_virtual

OK = Outcome(Kind.SUCCESS, 200)
BARE = Outcome(Kind.THROTTLED, 429, retry_after=1.0)


def stated(limit: int = 100, reset: float = 0.01) -> Outcome:
    return Outcome(Kind.THROTTLED, 429, retry_after=reset, limit=limit, interval=1.0)


def round_of(controller: PaceController, start: float, seconds: float, rate: float) -> float:
    """Grant at ``rate`` for ``seconds`` from ``start``, each answered at once, all 200s."""
    count = round(rate * seconds)
    for i in range(count):
        now = start + i / rate
        controller.on_grant(now)
        controller.on_answer(now, now, OK)
    return start + seconds


def test_a_new_budget_admits_a_small_number_of_requests_at_once() -> None:
    """Before any answer, a tenth of a second of ``START_RATE`` goes at once, then one turn
    every 1/START_RATE seconds: not the jobs' whole concurrency."""
    pace = Pace()
    at_once = 0
    while pace.wait(0.0) == 0:
        pace.grant(0.0)
        at_once += 1
    assert at_once == round(ctl.START_RATE * 0.1)
    assert pace.wait(0.0) == pytest.approx(1 / ctl.START_RATE)


def test_a_round_of_answers_none_refused_doubles_the_pace() -> None:
    """After ``START_ROUND`` seconds whose turns were answered, the pace doubles; then again."""
    controller = PaceController()
    now = round_of(controller, 0.0, ctl.START_ROUND * 0.8, ctl.START_RATE)
    assert controller.rate == ctl.START_RATE  # the round is not over
    now = round_of(controller, now, ctl.START_ROUND * 0.4, ctl.START_RATE)
    assert controller.rate == ctl.START_RATE * ctl.START_GROWTH
    round_of(controller, now + 0.001, ctl.START_ROUND * 1.2, controller.rate)
    assert controller.rate == ctl.START_RATE * ctl.START_GROWTH**2
    assert controller.starting


def test_a_round_needs_answers_to_its_own_turns() -> None:
    """Turns granted and never answered (or answered 5xx) open nothing, however long."""
    controller = PaceController()
    for i in range(200):
        controller.on_grant(i / 50)
    controller.on_answer(4.0, 4.0, Outcome(Kind.TRANSIENT, 503))
    assert controller.rate == ctl.START_RATE
    grown = PaceController()
    now = round_of(grown, 0.0, 0.3, ctl.START_RATE)
    assert grown.rate == 2 * ctl.START_RATE
    for _ in range(50):  # answers to turns of the round before: no new round
        grown.on_answer(now + 0.5, 0.1, OK)
    assert grown.rate == 2 * ctl.START_RATE


def test_the_first_stated_429_ends_it_at_the_stated_limit() -> None:
    """Even under the limit (the others spent it), a stated 429 sets the pace to the
    ceiling and the ordinary rules take over."""
    controller = PaceController()
    round_of(controller, 0.0, 0.1, ctl.START_RATE)
    controller.on_answer(0.1, 0.1, stated(200))
    assert controller.rate == pytest.approx(200 * ctl.CEILING_SHARE)
    assert not controller.starting


def test_the_first_bare_429_ends_it_at_what_got_through() -> None:
    """No stated limit: the rule of a first refusal (what came back in the last second, or
    half of what was sent)."""
    controller = PaceController()
    now = round_of(controller, 0.0, 0.3, ctl.START_RATE)
    now = round_of(controller, now, 0.3, 2 * ctl.START_RATE)
    controller.on_grant(now)
    controller.on_answer(now, now, BARE)
    assert not controller.starting
    assert controller.rate is not None
    assert ctl.START_RATE <= controller.rate <= 2 * ctl.START_RATE


def test_jobs_that_use_less_than_half_of_it_end_it_unpaced() -> None:
    """Jobs held back by their own concurrency: the pace is no limit, so none is kept."""
    controller = PaceController()
    round_of(controller, 0.0, 1.0, ctl.START_RATE * ctl.START_BINDING * 0.8)
    assert (controller.rate, controller.starting) == (None, False)


def test_a_fixed_pace_and_an_unstarted_one_have_no_slow_start() -> None:
    """``fixed_at`` keeps its rate; ``starting=False`` is unpaced from the first turn."""
    assert not PaceController.fixed_at(10.0).starting
    unstarted = PaceController(starting=False)
    assert (unstarted.rate, unstarted.starting) == (None, False)


# -- jobs together on virtual time ---------------------------------------------------------

LATENCY = 0.004


async def _first_contact(jobs: int, slow_start: bool, headers: LimitHeaders) -> tuple[int, int]:
    """429s and 200s of ``jobs`` jobs of 8 workers on one budget, in their first 5 seconds,
    against 100/s with a burst of 20."""
    loop = asyncio.get_running_loop()
    limiter = Limiter(100.0, (), loop.time, headers=headers, burst=20)
    budget = LocalBudget(slow_start=slow_start)
    counts = {"refused": 0, "ok": 0}

    async def worker(stop: StopSignal) -> None:
        lease = budget.lease(stop)
        while loop.time() < 5.0:
            turn = await lease.turn()
            refusal = limiter.admit()
            await asyncio.sleep(LATENCY)
            outcome = OK if refusal is None else classify(429, b"{}", refusal, ["x"])
            counts["ok" if refusal is None else "refused"] += 1
            await lease.observe(turn, outcome)
            if outcome.retry_after is not None and outcome.limit is None:
                await asyncio.sleep(outcome.retry_after)

    async with asyncio.TaskGroup() as group:
        for _ in range(jobs):
            stop = StopSignal()
            for _ in range(8):
                group.create_task(worker(stop))
    return counts["refused"], counts["ok"]


@pytest.mark.parametrize(("jobs", "most"), [(1, 1), (2, 1), (8, 3)])
def test_jobs_starting_together_draw_no_burst_of_429s(jobs: int, most: int) -> None:
    """1, 2 and 8 jobs against 100/s (burst 20, limit stated): at most 1, 1 and 3 429s in
    their first 5 s, where an unpaced start draws one per request in flight (8 a job)."""
    refused, ok = run_virtual(_first_contact(jobs, True, LimitHeaders.FULL))
    assert refused <= most
    assert ok >= 0.9 * 100 * 5  # the slow start costs well under a tenth of 5 s
    unpaced, _ = run_virtual(_first_contact(jobs, False, LimitHeaders.FULL))
    assert unpaced >= 4 * jobs


def test_an_unstated_limit_draws_far_fewer_429s_than_an_unpaced_start() -> None:
    """No header on the 429: the slow start still meets the limit with few turns in flight."""
    refused, _ = run_virtual(_first_contact(2, True, LimitHeaders.NONE))
    unpaced, _ = run_virtual(_first_contact(2, False, LimitHeaders.NONE))
    assert refused * 4 <= unpaced
