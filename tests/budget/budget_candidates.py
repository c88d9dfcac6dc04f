"""Controller designs measured against bulkdel's in the simulation (``budget_sim``).

``python -m tests.budget.budget_candidates`` prints each design's figures on every floor
scenario; the chosen design's docstring (``bulkdel/budget/controller.py``) quotes them.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bulkdel.budget import controller as ctl
from bulkdel.budget.controller import PaceController
from bulkdel.models import Kind, Outcome

from .budget_sim import FLOORS, STRESS, Controller, Scenario, simulate


@dataclass
class Cubic:
    """Round one's controller (AWS adaptive retry): every 429 more than 0.2 s after the last
    slow-down multiplies the pace by ``beta``; CUBIC climbs back; a stated limit is a ceiling.

    With ``tolerance`` > 0, a 429 slows down only when the refusal share of the answers of
    the last ``span`` seconds is above it ("CUBIC with a tolerance").
    """

    beta: float = 0.7
    tolerance: float = 0.0
    span: float = 2.0
    scale: float = 0.4
    share: float = 0.95
    rate: float | None = None
    _w_max: float = 0.0
    _last: float = float("-inf")
    _ceiling: float | None = None
    _sends: deque[float] = field(default_factory=deque)
    _answers: deque[tuple[float, bool]] = field(default_factory=deque)

    def flight_wait(self, now: float) -> float:
        return 0.0  # no slow start's window

    def answered(self, granted_at: float) -> None:
        pass

    def on_grant(self, now: float) -> None:
        self._sends.append(now)
        while self._sends and self._sends[0] < now - 1.0:
            self._sends.popleft()

    def on_answer(self, now: float, granted_at: float, outcome: Outcome) -> None:
        if outcome.kind is Kind.TRANSIENT or outcome.status is None:
            return
        refused = outcome.kind is Kind.THROTTLED
        self._answers.append((now, refused))
        while self._answers and self._answers[0][0] < now - self.span:
            self._answers.popleft()
        if refused:
            self._refused(now, granted_at, outcome)
        elif self.rate is not None:
            self._climb(now)

    def _refused(self, now: float, granted_at: float, outcome: Outcome) -> None:
        if outcome.limit and outcome.interval:
            stated = outcome.limit / outcome.interval * self.share
            if self._ceiling is None or stated < self._ceiling:
                self._ceiling = stated
                if self.rate is None or self.rate > stated:
                    self._w_max = self.rate = stated
                    self._last = now
                    return
        if granted_at <= self._last or now - self._last < 0.2:
            return
        share = sum(r for _, r in self._answers) / len(self._answers)
        if self.rate is not None and share <= self.tolerance:
            return
        current = self.rate if self.rate is not None else float(len(self._sends))
        self._w_max = current
        self.rate = max(0.5, current * self.beta)
        self._last = now

    def _climb(self, now: float) -> None:
        assert self.rate is not None
        k = (self._w_max * (1 - self.beta) / self.scale) ** (1 / 3)
        target = self._w_max + self.scale * (now - self._last - k) ** 3
        if self._ceiling is not None:
            target = min(target, self._ceiling)
        if target - self.rate >= max(0.05 * self.rate, 0.5):
            self.rate = target


CANDIDATES: dict[str, Callable[[], Controller]] = {
    "cubic (round one)": Cubic,
    "cubic, tolerance 3%, beta 0.85": lambda: Cubic(beta=0.85, tolerance=0.03, share=0.985),
    "target share 2% (chosen)": PaceController,
}


#: slow starts tried: (START_ANSWERS, answers a round of ``window`` needs); None is none
START_CANDIDATES: dict[str, tuple[int, Callable[[float], float]] | None] = {
    "unpaced": None,
    "window x2 per round trip (TCP)": (1, lambda w: w),
    "N=24 answers, / window": (24, lambda w: max(w, 24 / w)),
    "N=32 answers a round": (32, lambda w: max(w, 32.0)),
    "N=32 answers, / window (chosen)": (32, lambda w: max(w, 32 / w)),
}


def first_contact(start: tuple[int, Callable[[float], float]] | None) -> dict[str, object]:
    """429s in the first 5 s of 2 and 8 jobs (8 workers each) against 100/s with the bucket
    full (burst 20, or one second's 100), answers in 2-4 ms or 15-30 ms, limit stated; the
    time a 1,200-request job takes (burst 20); and what the slow start costs a job of 8
    workers against no limit, in round trips (1 ms and 4 ms answers, 2,000 requests)."""
    saved = ctl.START_ANSWERS, ctl.round_answers
    if start is not None:
        ctl.START_ANSWERS, ctl.round_answers = start
    make = (lambda: PaceController(starting=False)) if start is None else PaceController
    try:
        refused = {}
        for latency in (0.002, 0.015):
            for jobs in (2, 8):
                for burst in (20.0, None):
                    row = Scenario(
                        "first contact",
                        jobs=jobs,
                        requests=max(300, 1200 // jobs),
                        burst=burst,
                        drain=False,
                        latency=latency,
                        jitter=latency,
                    )
                    result = simulate(row, make())
                    key = f"{jobs} jobs, {latency * 1000:g} ms, burst {burst or 100:g}"
                    refused[key] = sum(second[2] for second in result.series[:5])
        limited = simulate(Scenario("limited", requests=1200, burst=20.0, drain=False), make())
        cost = {}
        for rtt in (0.001, 0.004):
            free = Scenario("free", rate=None, requests=2000, latency=rtt, jitter=0.0)
            slow = simulate(free, make()).elapsed
            unpaced = simulate(free, PaceController(starting=False)).elapsed
            cost[f"{rtt * 1000:g} ms"] = round((slow - unpaced) / rtt, 1)
    finally:
        ctl.START_ANSWERS, ctl.round_answers = saved
    return {"429s": refused, "limited_s": round(limited.elapsed, 2),
            "unlimited_cost_round_trips": cost}  # fmt: skip


def main(argv: Sequence[str] = ()) -> None:
    """Print every candidate's figures on every floor scenario (and with 5xx) as JSON;
    ``--first-contact``: each slow start's instead."""
    if "--first-contact" in argv:
        for name, start in START_CANDIDATES.items():
            print(json.dumps({"start": name, **first_contact(start)}), flush=True)
        return
    for name, make in CANDIDATES.items():
        for scenario in FLOORS + STRESS:
            for variant in (scenario, scenario.with_faults()):
                figures = simulate(variant, make()).summary()
                print(json.dumps({"controller": name, **figures}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
