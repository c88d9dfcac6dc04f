"""The adaptive pace of an account: pure logic, time passed in, no asyncio.

Design: a **target refusal share**, judged per *epoch*. Every change of pace starts an epoch;
only answers to turns granted after it say anything about the current pace, so a 429 for a
request granted before the last slow-down is never counted twice. Within an epoch:

* refusals above ``TARGET`` of its answers (at least ``MIN_REFUSALS`` of them among at least
  ``MIN_ANSWERS``, so one unlucky 429 is not a trend) bring the pace down to what got through:
  ``sent * (1 - share) * (1 + TARGET)``, to a quarter of it at most in one step;
* an epoch of at least ``PROBE_EVERY`` seconds and ``MIN_ANSWERS`` answers at or under the
  target raises the pace: by ``FAST_STEP`` far under the pace last refused, by ``SLOW_STEP``
  near it (CUBIC's plateau, in two steps), never past twice what was really sent;
* a 429 that states its window (``X-RateLimit-Limit`` per ``-Interval``, up to a second) sets
  a ceiling of ``CEILING_SHARE`` of it, which the pace never passes (a longer window is no
  pace: ``pace.Quota`` spends it); the ceiling is forgotten after ``CEILING_TRUST`` seconds
  (ten minutes) without a stated 429, so a lifted limit is found;
* a 5xx, an HTML error page or a dropped connection says nothing about the pace: ignored.

Refusals that others cause (other traffic on the account, another client) arrive whatever our
pace is; under the target share they change nothing, over it the pace settles where the share
is about the target, which is also where an unstated limit is held alone.

Why: measured in the discrete-event simulation (``python -m tests.budget.budget_candidates``:
the fake's own limiter, R = 100/s, 8 workers, 10-20 ms answers, no credit for the bucket's
first burst). Throughput over R (the long window: over ideal) / 429 share:

================================  ==============  ==================  ====================
scenario                          round one:      CUBIC, tolerance    target share 2%
                                  CUBIC, b=0.7    3%, b=0.85          (this module)
================================  ==============  ==================  ====================
alone, limit stated               0.96 / 0.3%     0.99 / 0.3%         0.99 / 0.3%
alone, only Retry-After           0.86 / 0.9%     0.85 / 4.0%         1.00 / 2.4%
alone, no header                  0.86 / 0.9%     0.87 / 2.8%         1.01 / 2.5%
1% refused at random (stated)     0.38 / 1.1%     0.99 / 1.1%         1.00 / 1.1%
another client spends 40%         1.02 / 0.9%     1.05 / 2.4%         1.08 / 2.8%
8 jobs, one budget                0.95 / 1.3%     0.99 / 1.3%         0.99 / 1.3%
3% refused at random (stated)     0.17 / 3.5%     0.29 / 3.5%         0.62 / 3.5%
no header, limit halves at 10 s   0.83 / 1.6%     0.84 / 4.1%         1.00 / 3.1%
================================  ==============  ==================  ====================

Round one collapses under refusals it did not cause (every 429 cuts by 0.3); a tolerance
fixes that, but a CUBIC sawtooth still spends 13-15% of an unstated limit in its troughs. The
target share holds the limit it cannot see (its cut goes to what got through, not a fixed
fraction), follows a limit that moves, and keeps its 429s near the 2% it aims at. Its known
weakness: random refusals above the target (3%) pull it down to about 0.6 (not to zero).

**The slow start** (a first contact, before any answer has said anything): the pace begins at
``START_RATE`` (a tenth of a second of it, five turns, at once) and doubles after each round
of ``START_ROUND`` seconds whose own turns were answered (``START_ANSWERS`` at least, none
refused). The first 429 ends it (a stated limit: straight to the ceiling; a bare one: the
first-refusal rule, what got through), and so do jobs that use less than half of the pace
(their concurrency holds them back, not the pace): unpaced from then on, as before. Every job
of the account shares it, so two or eight jobs start no faster than one. Unpaced, the first
contact spent the server's burst at the jobs' concurrency and every request in flight when
it ran out was refused (8 a job). Measured in the same simulation (``python -m
tests.budget.budget_candidates --first-contact``: 100/s, the bucket full at the start, limit
stated), 429s in the first 5 s of 2 / 8 jobs, and seconds for a 1,200-request job at 100/s
(burst 20) and for a 2,000-request job without a limit (4 ms answers):

============================  ==========  ==========  ===========  =====  ========
start rate, growth, round     2 ms,       15 ms,      15 ms,       100/s  no limit
                              burst 20    burst 20    burst 100
============================  ==========  ==========  ===========  =====  ========
unpaced (before)              16 / 64     13 / 62     13 / 53      11.70  0.70
20/s, x2, 0.25 s              1 / 1       5 / 5       13 / 11      12.10  2.15
50/s, x2, 0.15 s              2 / 2       7 / 7       12 / 15      11.73  1.38
50/s, x1.5, 0.1 s             1 / 1       4 / 4       13 / 13      11.74  1.44
50/s, x3, 0.3 s               1 / 1       7 / 7       9 / 9        11.82  1.61
100/s, x2, 0.25 s             1 / 1       3 / 3       9 / 9        11.69  1.57
50/s, x2, 0.25 s (chosen)     1 / 1       2 / 2       10 / 10      11.77  1.83
============================  ==========  ==========  ===========  =====  ========

The 429s left are the turns in flight when the bucket runs out: the pace times the answer
time, past the limit; a bucket of a whole second lets the pace double further before it
runs out. Faster growth or shorter rounds overshoot further; a start at the limit itself
(100/s) is no slow start for an account whose limit is lower. The price is paid once, at the
start: a job limited at 100/s takes 1% longer; a job against no limit at all reaches its own
concurrency's pace after about a second (1.8 s instead of 0.7 s for 2,000 requests).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import Kind, Outcome

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
#: the pace never runs this far ahead of what was sent (a job limited by its concurrency
#: must not bank a pace it would storm with later)
APP_LIMIT = 2.0
_SEND_SPAN = 1.0
#: the slow start (a first contact): the pace before any answer has said more ...
START_RATE = 50.0
#: ... doubled after each round of ``START_ROUND`` seconds and ``START_ANSWERS`` answers to
#: its own turns, none refused ...
START_GROWTH = 2.0
START_ROUND = 0.25
START_ANSWERS = 4
#: ... until the jobs send less than this share of it (their concurrency holds them back,
#: not the pace: unpaced from then on) or the first 429 (the rules above from then on)
START_BINDING = 0.5


@dataclass(slots=True)
class PaceController:
    """The pace of one account, learned from its answers.

    Args:
        rate: a fixed pace (requests per second) that answers never change; None adapts.
        starting: begin with the slow start (``START_RATE``, doubled each round of answers);
            False begins unpaced, as before the slow start.

    ``rate`` is None (unpaced) once the slow start has found the jobs' own limit, until the
    first 429.
    """

    rate: float | None = None
    fixed: bool = False
    #: in the slow start: the pace grows by rounds until the first 429 or until it is no limit
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
        if granted_at <= self.epoch_start:
            return  # granted at an older pace (or as it changed): says nothing about this one
        if refused:
            self.refused += 1
        else:
            self.accepted += 1
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
            # From what was sent, not the pace: a job held back by its concurrency (or
            # by waits of its own) sends less than the pace allows.
            sent = min(self.rate, self._sent_rate(now))
            self.last_refused_rate = sent
            cut = max(1.0 - MAX_CUT, (1.0 - share) * (1.0 + TARGET))
            self._set(now, sent * cut)
        elif now - self.epoch_start >= PROBE_EVERY and answers >= MIN_ANSWERS:
            self._probe(now)

    def _start(self, now: float) -> None:
        """The slow start: a refusal ends it; a round of answers doubles the pace, or ends
        the slow start unpaced when the jobs did not use half of it."""
        assert self.rate is not None
        if self.refused:
            self.starting = False
            self._first_pace(now)
            return
        start = self.epoch_start if self._first_grant is None else self._first_grant
        start = max(start, self.epoch_start)
        if self.accepted < START_ANSWERS or now - start < START_ROUND:
            return
        if self.epoch_sends / (now - start) >= self.rate * START_BINDING:
            self._set(now, self.rate * START_GROWTH)
            return
        self.starting = False
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
        near = self.last_refused_rate is not None and self.rate >= NEAR * self.last_refused_rate
        target = self.rate * (1.0 + (SLOW_STEP if near else FAST_STEP))
        target = min(target, max(self.rate, APP_LIMIT * self._sent_rate(now)))
        ceiling = self.ceiling(now)
        if ceiling is not None:
            target = min(target, ceiling)
        if target > self.rate:
            self._set(now, target)

    def _set(self, now: float, rate: float) -> None:
        self.rate = max(rate, MIN_RATE)
        self.epoch_start = now
        self.accepted = self.refused = 0.0
        self.epoch_sends = 0


def _trim(times: list[float], now: float) -> None:
    """Drop the times older than the span (the list is in time order)."""
    cut = 0
    while cut < len(times) and times[cut] < now - _SEND_SPAN:
        cut += 1
    if cut:
        del times[:cut]
