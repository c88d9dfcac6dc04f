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


class Answered:
    """Turns granted as the pace and the window allow (8 in flight at most), each answered
    200 after ``rtt``: a job of 8 workers against a server with no limit."""

    def __init__(self, rtt: float) -> None:
        self.pace = Pace()
        self.controller = self.pace.controller
        self.rtt = rtt
        self.now = 0.0
        self.flight: list[tuple[float, float]] = []  # (answer time, grant time)

    def run(self, answers: int) -> float:
        """Until ``answers`` more answers came back; the time then."""
        pace, flight = self.pace, self.flight
        done = 0
        while done < answers:
            wait = pace.wait(self.now)
            if wait == 0 and len(flight) < 8:
                flight.append((self.now + self.rtt, pace.grant(self.now)))
                continue
            flight.sort()
            if not flight or (wait and self.now + wait < flight[0][0]):
                self.now += wait
                continue
            due, granted = flight.pop(0)
            self.now = max(self.now, due)
            pace.observe(self.now, granted, OK)
            done += 1
        return self.now


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


def test_the_first_answer_sets_one_turn_in_flight_per_round_trip() -> None:
    """After the first answer, the pace is the window (one turn) per round trip, and a
    second turn waits for the first one's answer, however long it takes."""
    pace = Pace()
    first = pace.grant(0.0)
    pace.observe(0.002, first, OK)
    assert pace.rate == pytest.approx(1 / 0.002)
    turn = pace.grant(0.002)
    assert pace.wait(0.003) > 0 and pace.wait(0.5) > 0  # the answer is late: still one
    pace.observe(0.5, turn, OK)
    assert pace.wait(0.5) == 0


def test_a_round_of_answers_none_refused_doubles_the_window() -> None:
    """``START_ANSWERS`` answers at one turn in flight double the window, the next round
    needs half as many (and a round trip's worth at least); the pace is always the window
    per round trip."""
    jobs = Answered(0.004)
    controller = jobs.controller
    jobs.run(round(ctl.START_RATE * 0.1))  # the first turns, granted before any answer
    jobs.run(ctl.START_ANSWERS - 1)
    assert controller.window == 1
    jobs.run(1)
    assert controller.window == 2 and controller.starting
    assert controller.rate == pytest.approx(2 / 0.004)
    answers = 0
    while controller.window == 2:
        answers += jobs.run(1) and 1
    # and the answers to the turns in flight as the window grew (of the round before)
    assert ctl.START_ANSWERS // 2 < answers <= ctl.START_ANSWERS // 2 + 2
    assert controller.window == 4 and controller.rate == pytest.approx(4 / 0.004)


def test_the_slow_start_costs_round_trips_not_seconds() -> None:
    """From the first request to the pace of a job's 8 workers (then unpaced), at 1 ms or
    40 ms answers alike: at most 40 round trips later than unpaced turns would have
    got the same answers (before: rounds of a quarter second, 1.5 s where nothing limits)."""
    for rtt in (0.001, 0.04):
        jobs = Answered(rtt)
        answers = 0
        while jobs.controller.starting:
            jobs.run(1)
            answers += 1
        assert jobs.now - answers * rtt / 8 <= 40 * rtt
        assert jobs.controller.rate is None and jobs.controller.window == 16


def test_a_round_needs_answers_to_its_own_turns() -> None:
    """Turns granted and never answered (or answered 5xx) open nothing, however long; a
    turn not answered within ``FLIGHT_TIMEOUT`` leaves the window."""
    pace = Pace()
    controller = pace.controller
    first = pace.grant(0.0)
    pace.observe(0.01, first, OK)
    lost = pace.grant(0.01)
    assert pace.wait(0.5) > 0
    pace.observe(0.6, lost, Outcome(Kind.TRANSIENT, 503))
    assert pace.wait(0.6) == 0 and controller.window == 1
    stopped = pace.grant(0.6)
    assert pace.wait(0.6 + ctl.FLIGHT_TIMEOUT - 0.01) > 0
    assert pace.wait(0.6 + ctl.FLIGHT_TIMEOUT) == 0
    for _ in range(50):  # answers to a turn before this round: no new round
        controller.on_answer(2.0, stopped - 1, OK)
    assert controller.window == 1


def test_the_first_stated_429_ends_it_at_the_stated_limit() -> None:
    """Even under the limit (the others spent it), a stated 429 sets the pace to the
    ceiling and the ordinary rules take over."""
    jobs = Answered(0.01)
    controller = jobs.controller
    jobs.run(5)
    controller.on_answer(0.1, 0.1, stated(200))
    assert controller.rate == pytest.approx(200 * ctl.CEILING_SHARE)
    assert not controller.starting


def test_the_first_bare_429_ends_it_at_what_got_through() -> None:
    """No stated limit: the rule of a first refusal (what came back in the last second, or
    half of what was sent), whichever round its turn was granted in."""
    jobs = Answered(0.01)
    controller = jobs.controller
    now = jobs.run(ctl.START_ANSWERS + 6)
    assert controller.window == 2
    controller.on_answer(now, now - 0.1, BARE)  # a turn of the round before
    assert not controller.starting
    assert controller.rate is not None
    assert 0.5 / 0.01 <= controller.rate <= 2 / 0.01


def test_jobs_that_use_less_than_half_of_it_end_it_unpaced() -> None:
    """Jobs held back by their own concurrency (one turn at a time here, slower than the
    pace): the pace is no limit, so none is kept."""
    controller = PaceController()
    now = 0.0
    for _ in range(ctl.START_ANSWERS + 1):
        controller.on_grant(now)
        controller.on_answer(now + 0.001, now, OK)
        now += 0.01  # 100 turns/s at most, against a pace of 1,000/s
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
