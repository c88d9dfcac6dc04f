"""The adaptive pace of an account: pure logic, time passed in, no asyncio.

Design: a **target refusal share**, judged per *epoch*. Every change of pace starts an epoch;
only answers to turns granted after it say anything about the current pace, so a 429 for a
request granted before the last slow-down is never counted twice. Within an epoch:

* refusals above ``TARGET`` of its answers (at least ``MIN_REFUSALS`` of them among at least
  ``MIN_ANSWERS``, so one unlucky 429 is not a trend) bring the pace down to what got through:
  ``sent * (1 - share) * (1 + TARGET)``, to a quarter of it at most in one step (``sent``:
  the send rate when the refusals came, not after: refused workers may all sleep a
  whole-second ``Retry-After`` at once, and the epoch's last answers come after it);
* an epoch of at least ``PROBE_EVERY`` seconds and ``MIN_ANSWERS`` answers at or under the
  target raises the pace: by ``FAST_STEP`` far from the pace last refused, by ``SLOW_STEP``
  near it (within ``NEAR`` under or over: CUBIC's plateau, in two steps), never past twice
  what was really sent; from the second such probe in a row whose epoch had no refusal at
  all, each triples the step (up to ``MAX_STEP``) and comes after ``CLEAN_EVERY`` seconds;
* a 429 that states its window (``X-RateLimit-Limit`` per ``-Interval``, up to a second) sets
  a ceiling of ``CEILING_SHARE`` of it, which the pace never passes (a longer window is no
  pace: ``pace.Quota`` spends it); the ceiling is forgotten after ``CEILING_TRUST`` seconds
  (ten minutes) without a stated 429, so a lifted limit is found;
* a 5xx, an HTML error page or a dropped connection says nothing about the pace: ignored.

Refusals that others cause (other traffic on the account, another client) arrive whatever our
pace is; under the target share they change nothing, over it the pace settles where the share
is about the target, which is also where an unstated limit is held alone.

Why this design and not CUBIC's sawtooth, and why probes that triple: the candidates, measured
in the discrete-event simulation (``python -m tests.budget.budget_candidates``), are compared in
``benchmarks/PACE_RESULTS.md`` ("The controller's design"). In short: a cut to what got through
holds a limit it cannot see and follows one that moves; random refusals above the target pull
it down (not to zero); probes that grow while no refusal comes find the room a neighbour
leaves, and the first refusal beside a neighbour that stays starts them over.

**The slow start** (a first contact, before any answer has said anything) is
``slow_start``'s: its rules, the alternatives tried and their figures.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ..models import Kind, Outcome
from .slow_start import (
    FLIGHT_TIMEOUT,
    RTT_GAIN,
    START_BINDING,
    START_GROWTH,
    START_RATE,
    round_answers,
)
from .slow_start import START_ANSWERS as START_ANSWERS  # the slow start's, re-exported

#: share of answers that may be 429s before the pace comes down
TARGET = 0.02
#: refusals an epoch needs before its share is trusted
MIN_REFUSALS = 3
#: answers, and seconds, an epoch needs before the pace may go up
MIN_ANSWERS = 20
PROBE_EVERY = 1.0
#: pace increase per epoch: far under the pace last refused, and near it (within NEAR)
FAST_STEP = 0.10
SLOW_STEP = 0.02
NEAR = 0.9
#: the room a neighbour that left gives back: from the second probe in a row whose epoch
#: had no refusal at all, each such probe multiplies the step by ``CLEAN_GROWTH`` (to
#: ``MAX_STEP`` at most) and comes after ``CLEAN_EVERY`` seconds; one refusal starts over
CLEAN_GROWTH = 3.0
CLEAN_EVERY = 0.5
MAX_STEP = 1.0
#: probes in a row counted at most (the steps are capped long before)
MAX_CLEAN = 16
#: at most this cut in one step, however many refusals (one bad epoch is not a collapse)
MAX_CUT = 0.75
#: share of a stated limit paced at
CEILING_SHARE = 0.985
#: windows longer than this (seconds) are not paced but spent as quotas (``pace.Quota``)
LONG_WINDOW = 1.0
#: a stated limit is trusted this long without being restated; then the climb may probe past
#: it (a lifted limit is found again), at the price of a 429 that may shut the gate for a
#: whole long window
CEILING_TRUST = 600.0
#: an epoch's counts are halved past this many answers, so that it follows a change
MAX_ANSWERS = 400
MIN_RATE = 0.5
#: the pace never runs this far ahead of what was sent (a run limited by its concurrency
#: must not bank a pace it would storm with later)
APP_LIMIT = 2.0
_SEND_SPAN = 1.0


@dataclass(slots=True)
class PaceController:
    """The pace of one account, learned from its answers.

    Args:
        rate: a fixed pace (requests per second) that answers never change; None adapts.
        starting: begin with the slow start (``slow_start``: ``START_RATE``, then a window
            of turns in flight doubled each round of answers); False begins unpaced.

    ``rate`` is None (unpaced) once the slow start has found the runs' own limit, until the
    first 429.
    """

    rate: float | None = None
    fixed: bool = False
    #: in the slow start: the window grows by rounds until the first 429 or until it is no
    #: limit
    starting: bool = True
    #: when the current epoch began (the last change of pace)
    epoch_start: float = float("-inf")
    accepted: float = 0.0
    refused: float = 0.0
    #: the pace at the last slow-down (CUBIC's W_max)
    last_refused_rate: float | None = None
    #: interval (s) -> (ceiling in requests per second, when last stated)
    ceilings: dict[float, tuple[float, float]] = field(default_factory=dict)
    #: grant times of the last second, to know what was actually sent
    _sends: list[float] = field(default_factory=list)
    _answers: list[float] = field(default_factory=list)
    _first_grant: float | None = None
    #: turns granted since the current epoch began (the slow start's measure of use)
    epoch_sends: int = 0
    #: the slow start's turns in flight, and the smoothed round trip (s; None: no answer yet)
    window: float = 1.0
    srtt: float | None = None
    #: the pace the current round began at (the pace follows the round trip within it)
    round_rate: float = START_RATE
    #: grant times of the slow start's turns not answered yet, oldest first
    flight: list[float] = field(default_factory=list)
    #: probes in a row whose epochs had no refusal at all (each doubles the next step)
    clean: int = 0
    refused_sent: float = 0.0  #: the highest send rate when this epoch's refusals came

    def __post_init__(self) -> None:
        if self.fixed or self.rate is not None:
            self.starting = False
        elif self.starting:
            self.rate = START_RATE

    @classmethod
    def fixed_at(cls, rate: float) -> PaceController:
        """A controller that keeps ``rate`` whatever the answers."""
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        return cls(rate=rate, fixed=True)

    def ceiling(self, now: float) -> float | None:
        """The lowest stated limit still trusted, as a pace; None when none is."""
        trusted = [c for c, at in self.ceilings.values() if now - at <= CEILING_TRUST]
        if len(trusted) < len(self.ceilings):
            self.ceilings = {
                i: (c, at) for i, (c, at) in self.ceilings.items() if now - at <= CEILING_TRUST
            }
        return min(trusted) if trusted else None

    def on_grant(self, now: float) -> None:
        """A turn was granted at ``now``."""
        _trim(self._sends, now)
        self._sends.append(now)
        if now > self.epoch_start:
            self.epoch_sends += 1
        if self._first_grant is None:
            self._first_grant = now
        if self.starting:
            self.flight.append(now)

    def flight_wait(self, now: float) -> float:
        """Seconds until the slow start's window has room (0: now; an answer may come first).

        Before the first answer there is no window (the starting pace alone); after the
        slow start there is none either.
        """
        flight = self.flight
        if not self.starting or self.srtt is None or len(flight) < self.window:
            return 0.0
        expired = 0
        while expired < len(flight) and flight[expired] <= now - FLIGHT_TIMEOUT:
            expired += 1
        del flight[:expired]
        if len(flight) < self.window:
            return 0.0
        return flight[0] + FLIGHT_TIMEOUT - now

    def answered(self, granted_at: float) -> None:
        """Any answer (or a lost one: a 5xx, a dropped connection) to a turn granted at
        ``granted_at``: it leaves the slow start's window."""
        if self.flight:
            # not there: granted before the slow start's window, or expired
            with contextlib.suppress(ValueError):
                self.flight.remove(granted_at)
            if not self.starting:
                self.flight.clear()

    def on_answer(self, now: float, granted_at: float, outcome: Outcome) -> None:
        """Learn from the answer to a turn granted at ``granted_at``."""
        if self.fixed or outcome.kind is Kind.TRANSIENT or outcome.status is None:
            return
        refused = outcome.kind is Kind.THROTTLED
        if refused and outcome.interval is not None and outcome.interval > LONG_WINDOW:
            return  # a spent long window: the quota's business, not the pace's
        if not refused:
            _trim(self._answers, now)
            self._answers.append(now)
        stated = refused and outcome.limit and outcome.interval and outcome.interval > 0
        if stated and self._learn_limit(now, outcome.limit or 0, outcome.interval or 1.0):
            return
        if self.starting and (refused or self.srtt is None):
            # The first answer sets the pace in round trips; the first 429 ends the slow
            # start, whichever round its turn was granted in (rounds are short).
            self._sample(now, granted_at)
            self.refused += refused
            self._start(now)
            return
        if self.starting:
            # The pace follows the round trip within a round (no new epoch: the window is
            # the same); the window itself changes only at the end of a round.
            self._sample(now, granted_at)
            self.rate = self._window_pace()
        if granted_at <= self.epoch_start:
            return  # granted at an older pace (or as it changed): says nothing about this one
        if refused:
            self.refused_sent = max(self.refused_sent, self._sent_rate(now))
        self.refused += refused
        self.accepted += not refused
        if self.accepted + self.refused > MAX_ANSWERS:
            self.accepted /= 2
            self.refused /= 2
        self._decide(now)

    def _learn_limit(self, now: float, limit: int, interval: float) -> bool:
        """Take a stated limit as a ceiling; True when the pace jumped to it."""
        self.ceilings[interval] = (limit / interval * CEILING_SHARE, now)
        ceiling = self.ceiling(now)
        assert ceiling is not None
        if self.rate is None or self.rate > ceiling or self.starting:
            self.starting = False
            self.flight.clear()
            self._set(now, ceiling)
            return True
        return False

    def _decide(self, now: float) -> None:
        answers = self.accepted + self.refused
        share = self.refused / answers
        if self.starting:
            self._start(now)
        elif self.rate is None:
            if not self.refused:
                return
            self._first_pace(now)
        elif answers >= MIN_ANSWERS and self.refused >= MIN_REFUSALS and share > TARGET:
            # What was sent when the refusals came, not the pace (a run held back by its
            # concurrency sends less) nor since (the refused may sleep a Retry-After together).
            sent = min(self.rate, max(self._sent_rate(now), self.refused_sent))
            self.last_refused_rate = sent
            self.clean = 0
            cut = max(1.0 - MAX_CUT, (1.0 - share) * (1.0 + TARGET))
            self._set(now, sent * cut)
        elif answers >= MIN_ANSWERS and now - self.epoch_start >= (
            CLEAN_EVERY if self.clean and not self.refused else PROBE_EVERY
        ):
            self.clean = min(self.clean + 1, MAX_CLEAN) if self.refused == 0 else 0
            self._probe(now)

    def _sample(self, now: float, granted_at: float) -> None:
        """Take an answer's time into the smoothed round trip."""
        rtt = max(now - granted_at, 1e-6)
        self.srtt = rtt if self.srtt is None else self.srtt + RTT_GAIN * (rtt - self.srtt)

    def _window_pace(self) -> float:
        """The slow start's pace: its window of turns in flight per round trip."""
        assert self.srtt is not None
        return max(START_RATE, self.window / self.srtt)

    def _start(self, now: float) -> None:
        """The slow start: a refusal ends it; a round of answers doubles the turns in
        flight, or ends the slow start unpaced when the runs did not use half of the pace."""
        assert self.rate is not None and self.srtt is not None
        if self.refused:
            self.starting = False
            self.flight.clear()
            self._first_pace(now)
            return
        if self.epoch_start == float("-inf"):
            # The first answer: from the starting pace to one turn in flight.
            self._set(now, self._window_pace())
            return
        if self.accepted < round_answers(self.window):
            return
        span = max(now - self.epoch_start, 1e-6)
        # The lowest of the round's paces and its window: runs kept to it are held back by
        # the slow start, not by their concurrency.
        held = min(self.rate, self.round_rate, self.window / self.srtt)
        if self.epoch_sends / span >= held * START_BINDING:
            self.window *= START_GROWTH
            self._set(now, self._window_pace())
            return
        self.starting = False
        self.flight.clear()
        self._set(now, self.rate)
        self.rate = None

    def _first_pace(self, now: float) -> None:
        """The first refusal of an unpaced run, with no stated limit: what got through in
        the last second, or half of what was sent when little has come back yet (the epochs
        that follow find the rest)."""
        _trim(self._answers, now)
        sent = self._sent_rate(now)
        self.last_refused_rate = sent
        self._set(now, max(len(self._answers) / self._span(now), sent / 2))

    def _span(self, now: float) -> float:
        """The span of the send and answer counts: a second, or the run so far if shorter."""
        first = now if self._first_grant is None else self._first_grant
        return min(_SEND_SPAN, now - first) or _SEND_SPAN / 100

    def _sent_rate(self, now: float) -> float:
        """Turns granted per second, over the last second."""
        _trim(self._sends, now)
        return len(self._sends) / self._span(now)

    def _probe(self, now: float) -> None:
        assert self.rate is not None
        # Near the pace last refused: from NEAR under it to as far over (CUBIC's plateau;
        # past it, the fast step again).
        lrr = self.last_refused_rate
        near = lrr is not None and NEAR * lrr <= self.rate <= lrr / NEAR
        step = (SLOW_STEP if near else FAST_STEP) * CLEAN_GROWTH ** max(0, self.clean - 1)
        target = self.rate * (1.0 + min(step, MAX_STEP))
        target = min(target, max(self.rate, APP_LIMIT * self._sent_rate(now)))
        ceiling = self.ceiling(now)
        if ceiling is not None:
            target = min(target, ceiling)
        if target > self.rate:
            self._set(now, target)

    def _set(self, now: float, rate: float) -> None:
        self.rate = self.round_rate = max(rate, MIN_RATE)
        self.epoch_start = now
        self.accepted = self.refused = self.refused_sent = 0.0
        self.epoch_sends = 0


def _trim(times: list[float], now: float) -> None:
    """Drop the times older than the span (the list is in time order)."""
    cut = 0
    while cut < len(times) and times[cut] < now - _SEND_SPAN:
        cut += 1
    if cut:
        del times[:cut]
