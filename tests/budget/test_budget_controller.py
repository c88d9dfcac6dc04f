"""The pace controller and the pace (gate + GCRA) as pure logic: time is passed in."""

from __future__ import annotations

import pytest

from bulkdel.budget import controller as ctl
from bulkdel.budget.controller import PaceController
from bulkdel.budget.pace import Pace
from bulkdel.models import Kind, Outcome

OK = Outcome(Kind.SUCCESS, 200)
REFUSED = Outcome(Kind.THROTTLED, 429)
BARE_RETRY_AFTER = Outcome(Kind.THROTTLED, 429, retry_after=1.0)


def stated(limit: int = 50, interval: float = 1.0, reset: float = 0.02) -> Outcome:
    return Outcome(Kind.THROTTLED, 429, retry_after=reset, limit=limit, interval=interval)


def paced_at(rate: float, now: float = 0.0) -> PaceController:
    """A controller that already paces at ``rate`` (past the slow start, nothing learned)."""
    controller = PaceController(starting=False)
    controller._set(now, rate)
    return controller


def feed(controller: PaceController, start: float, rate: float, seconds: float, every: int = 0):
    """Grant and answer at ``rate`` for ``seconds``; every ``every``-th answer is a 429."""
    count = int(rate * seconds)
    for i in range(count):
        now = start + i / rate
        controller.on_grant(now)
        refused = every and i % every == every - 1
        controller.on_answer(now, now, REFUSED if refused else OK)
    return start + seconds


def test_unpaced_until_the_first_429_then_straight_to_a_stated_limit() -> None:
    """Without the slow start: a 429 that states 50 per second sets the pace just under it,
    at once."""
    controller = PaceController(starting=False)
    feed(controller, 0.0, 400, 1.0)
    assert controller.rate is None
    controller.on_answer(1.0, 1.0, stated(50, 1.0))
    assert controller.rate == pytest.approx(50 * ctl.CEILING_SHARE)


def test_a_long_window_is_spent_as_a_quota_not_paced() -> None:
    """1000 per 15 s: the 429 shuts the gate to the reset; then 990 turns at once, then the
    gate of the quota until the window ends; the pace is not touched."""
    pace = Pace(PaceController(starting=False))
    pace.observe(0.0, 0.0, stated(1000, 15.0, reset=10.0))
    assert pace.rate is None
    assert pace.wait(0.0) == pytest.approx(10.0)
    granted = 0
    while pace.wait(10.0) == 0:
        pace.grant(10.0)
        granted += 1
    assert granted == 990
    assert pace.wait(10.0) == pytest.approx(15.0)
    assert pace.wait(40.5) == 0  # two windows later: a fresh quota


@pytest.mark.parametrize("status", [500, 502, 503, None])
def test_a_5xx_an_html_page_or_a_dropped_connection_is_no_rate_signal(status: int | None) -> None:
    """Transient answers neither slow the pace down nor count as answers."""
    controller = paced_at(80.0)
    transient = Outcome(Kind.TRANSIENT, status, maybe_applied=True)
    for i in range(500):
        controller.on_grant(i / 80)
        controller.on_answer(i / 80, i / 80, transient)
    assert controller.rate == 80.0
    unpaced = PaceController(starting=False)
    unpaced.on_answer(0.0, 0.0, transient)
    assert unpaced.rate is None
    starting = PaceController()
    for i in range(100):
        starting.on_grant(i / 50)
        starting.on_answer(i / 50, i / 50, transient)
    assert (starting.rate, starting.starting) == (ctl.START_RATE, True)


def test_a_429_for_a_turn_granted_before_the_last_slow_down_is_no_new_signal() -> None:
    """Answers to turns of an older pace are skipped: a burst of them cuts only once."""
    controller = paced_at(100.0)
    for _ in range(40):  # many 429s in one epoch: one cut
        controller.on_answer(1.0, 0.5, REFUSED)
    after_cut = controller.rate
    assert after_cut is not None
    assert after_cut < 100.0
    for _ in range(100):
        controller.on_answer(2.0, 0.9, REFUSED)  # granted before the cut at 1.0
    assert controller.rate == after_cut


def test_refusals_others_cause_under_the_target_do_not_slow_it() -> None:
    """1 in 100 answers refused at random: the pace holds (and still climbs)."""
    controller = paced_at(100.0)
    feed(controller, 0.0, 100, 30.0, every=100)
    assert controller.rate is not None
    assert controller.rate >= 100.0


def test_refusals_over_the_target_bring_it_to_what_got_through() -> None:
    """One in ten refused: the pace comes down to about the nine that got through."""
    controller = paced_at(100.0)
    feed(controller, 0.0, 100, 0.5, every=10)
    assert controller.rate is not None
    assert 0.85 * 100 <= controller.rate <= 0.95 * 100


def test_one_bad_epoch_cuts_to_a_quarter_at_most() -> None:
    """Every answer refused: a quarter, not zero."""
    controller = paced_at(100.0)
    for i in range(100):
        controller.on_grant(i / 100)
    for i in range(80, 100):
        controller.on_answer(1.0, i / 100, REFUSED)
    assert controller.rate == pytest.approx(25.0)


def test_the_first_bare_429_goes_to_what_got_through() -> None:
    """No stated limit: the first refusal paces at the answers of the last second."""
    controller = PaceController(starting=False)
    feed(controller, 0.0, 120, 1.0)
    controller.on_grant(1.0)
    controller.on_answer(1.0, 1.0, BARE_RETRY_AFTER)
    assert controller.rate == pytest.approx(120, rel=0.05)


def test_it_climbs_without_refusals_but_not_past_twice_what_was_sent() -> None:
    """A job held back by its concurrency does not bank a pace it would storm with."""
    controller = paced_at(10.0)
    feed(controller, 0.0, 10, 60.0)
    assert controller.rate == pytest.approx(20.0, rel=0.1)


def test_a_stated_ceiling_is_forgotten_after_a_long_quiet() -> None:
    """A limit not restated for CEILING_TRUST seconds stops capping the climb."""
    controller = PaceController()
    controller.on_answer(0.0, 0.0, stated(10, 1.0))
    assert controller.ceiling(1.0) is not None
    assert controller.ceiling(ctl.CEILING_TRUST + 1) is None


def test_a_fixed_pace_never_changes() -> None:
    """``fixed_at`` keeps its rate whatever the answers."""
    controller = PaceController.fixed_at(25.0)
    controller.on_answer(0.0, 0.0, stated(5, 1.0))
    feed(controller, 0.0, 25, 2.0, every=2)
    assert controller.rate == 25.0
    with pytest.raises(ValueError, match="rate must be > 0"):
        PaceController.fixed_at(0)


# -- the pace: gate and GCRA -------------------------------------------------------------


def test_a_stated_429_closes_the_gate_for_as_long_as_it_says() -> None:
    """X-RateLimit-Reset shuts the gate; a shorter later one never reopens it early."""
    pace = Pace()
    assert pace.wait(0.0) == 0
    pace.observe(5.0, 5.0, stated(reset=2.0))
    assert pace.gate_wait(5.0) == 2.0
    assert pace.wait(6.5) >= 0.5
    pace.observe(6.5, 6.5, stated(reset=0.1))
    assert pace.gate_wait(6.5) == 0.5


def test_a_bare_retry_after_closes_no_gate() -> None:
    """Only Retry-After: the refused request's own retry waits, not the account."""
    pace = Pace(paced_at(10.0))
    pace.observe(1.0, 1.0, BARE_RETRY_AFTER)
    assert pace.gate_wait(1.0) == 0


def test_turns_are_spaced_at_the_pace_with_a_tenth_of_a_second_of_burst() -> None:
    """GCRA: 100/s lets 10 through at once, then one each 10 ms."""
    pace = Pace(PaceController.fixed_at(100.0))
    granted = 0
    while pace.wait(0.0) == 0:
        pace.grant(0.0)
        granted += 1
    assert granted == 10
    assert pace.wait(0.0) == pytest.approx(0.01)


def test_no_turns_are_banked_while_the_gate_is_shut() -> None:
    """When the gate opens, turns go at the pace, not in a burst: the server's bucket is
    empty then."""
    pace = Pace(PaceController.fixed_at(100.0))
    pace.observe(0.0, 0.0, stated(100, 1.0, reset=1.0))
    assert pace.wait(0.5) == pytest.approx(0.5)
    pace.grant(1.0)
    assert pace.wait(1.0) == pytest.approx(0.01)


def test_a_stall_of_the_refused_workers_does_not_set_the_cut() -> None:
    """429s with only ``Retry-After: 1`` send every refused worker to sleep for a second at
    once (issue 27): the answers that complete the epoch come after that stall, and the send
    rate of the last second then holds the stall. The cut is from what was sent when the
    refusals came (about 100 a second), not from the stall's 10."""
    controller = paced_at(100.0, now=-1.0)
    for i in range(100):  # a second at the pace, answers not yet back
        controller.on_grant(-1.0 + i / 100)
    for i in range(10):  # ten turns after the epoch began: half refused, all workers asleep
        now = 0.001 + i / 100
        controller.on_grant(now)
        controller.on_answer(now + 0.005, now, BARE_RETRY_AFTER if i % 2 else OK)
    assert controller.rate == 100.0  # under MIN_ANSWERS: nothing decided yet
    for i in range(10):  # a second later the workers are back, at the pace
        now = 1.1 + i / 100
        controller.on_grant(now)
        controller.on_answer(now + 0.005, now, OK)
    assert controller.rate is not None
    cut = max(1 - ctl.MAX_CUT, (1 - 5 / 20) * (1 + ctl.TARGET))
    assert controller.rate == pytest.approx(100.0 * cut, rel=0.02)
