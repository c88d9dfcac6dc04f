"""A deterministic discrete-event simulation of jobs sharing an account budget.

The server is the fake's own limiter (``bulkdel.testing.fake_limits.Limiter``) on virtual
time, its 429s classified by bulkdel's own classifier; the clients are jobs of ``concurrency``
workers that take turns from one ``Pace`` (gate, GCRA pacer, controller) round-robin between
jobs, as ``LocalBudget`` does, and retry like the pipeline (a stated 429 waits at the gate, a
bare ``Retry-After`` or a 5xx waits in its own batch). "Another client" spends a steady share
of the limit and never retries. Used by the tests (every floor row) and to choose the
controller: ``python -m tests.budget.budget_sim`` prints each candidate's figures.
"""

from __future__ import annotations

import heapq
import json
import random
import sys
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bulkdel.budget.controller import PaceController
from bulkdel.budget.pace import Pace
from bulkdel.imagekit.answers import classify
from bulkdel.models import Kind, Outcome
from bulkdel.testing.fake_limits import Limiter, LimitHeaders, RateWindow

_BODY = b'{"message": "Too many requests."}'


class Controller(Protocol):
    """What ``Pace`` needs of a controller (the real one, or a candidate)."""

    rate: float | None

    def flight_wait(self, now: float) -> float: ...

    def answered(self, granted_at: float) -> None: ...

    def on_grant(self, now: float) -> None: ...

    def on_answer(self, now: float, granted_at: float, outcome: Outcome) -> None: ...


@dataclass(frozen=True)
class Scenario:
    """One server, its other traffic and the jobs that share one budget."""

    name: str
    rate: float | None = 100.0
    windows: tuple[tuple[int, float], ...] = ()
    headers: LimitHeaders = LimitHeaders.FULL
    #: share of requests refused at random (the account's other traffic), limit stated
    other_traffic: float = 0.0
    #: share of the limit another client spends steadily (it never retries) ...
    other_client: float = 0.0
    #: ... until this many seconds after the start (None: to the end)
    other_client_until: float | None = None
    error_5xx: float = 0.0
    html_502: float = 0.0
    jobs: int = 1
    #: workers of each job (one number for all, or one per job)
    concurrency: int | tuple[int, ...] = 8
    #: requests each job has to get through
    requests: int = 3000
    #: answer latency: fixed plus uniform jitter, seconds
    latency: float = 0.01
    jitter: float = 0.01
    #: seconds the job starts after the server (into the first fixed window)
    offset: float = 0.3
    seed: int = 1
    #: seconds simulated at most
    horizon: float = 400.0
    #: (seconds after the start, new rate): the server's per-second limit changes then
    rate_change: tuple[float, float] | None = None
    #: the server's bucket: tokens at most (None: one second of the rate)
    burst: float | None = None
    #: spend the bucket's first burst before the jobs start (False: a first contact, the
    #: bucket full)
    drain: bool = True

    @property
    def limit(self) -> float:
        """Requests per second the server allows in the long run (on average over a change)."""
        rates = [limit / interval for limit, interval in self.windows]
        if self.rate is not None:
            rates.append(self.rate)
        if self.rate_change is not None and self.rate is not None:
            # the job runs about requests / rate seconds; weight both rates by time spent
            after, new = self.rate_change
            before_done = after * self.rate
            rest = max(0.0, self.requests * self.jobs - before_done)
            return (before_done + rest) / (after + rest / new)
        return min(rates)

    def with_faults(self) -> Scenario:
        """The same plus 2% 5xx and 0.5% HTML 502s."""
        return Scenario(
            **{**self.__dict__, "name": self.name + " +5xx", "error_5xx": 0.02, "html_502": 0.005}
        )


@dataclass
class JobFigures:
    """What one job got."""

    done: int = 0
    #: requests the server let through (2xx and 5xx: both spent the limit)
    admitted: int = 0
    sent: int = 0
    refused: int = 0
    finished_at: float | None = None


@dataclass
class Result:
    """The figures of one simulated run."""

    scenario: Scenario
    jobs: list[JobFigures]
    elapsed: float
    #: per second: [sent, 200s, 429s]
    series: list[list[int]] = field(default_factory=list)
    rates: list[float | None] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Requests of all jobs."""
        return sum(j.sent for j in self.jobs)

    @property
    def refused_share(self) -> float:
        """429s over requests, all jobs."""
        return sum(j.refused for j in self.jobs) / max(1, self.sent)

    @property
    def of_limit(self) -> float:
        """Requests let through per second over the limit left by the other client.

        A 5xx spent the limit as a 200 did: the pace is judged on both (``done_of_limit``
        counts 200s only)."""
        left = self.scenario.limit * (1.0 - self.scenario.other_client)
        return sum(j.admitted for j in self.jobs) / self.elapsed / left

    @property
    def done_of_limit(self) -> float:
        """Requests that succeeded per second over the limit left by the other client."""
        left = self.scenario.limit * (1.0 - self.scenario.other_client)
        return sum(j.done for j in self.jobs) / self.elapsed / left

    def of_ideal(self) -> float:
        """For a fixed window: ideal time (each window spent at once) over the time taken."""
        limit, interval = self.scenario.windows[0]
        total = sum(j.admitted for j in self.jobs)
        windows_needed = -(-total // limit)
        ideal = (windows_needed - 1) * interval - self.scenario.offset % interval
        return ideal / self.elapsed

    def shares(self) -> list[float]:
        """Each job's done requests, while all ran, over a fair share of them."""
        end = min(j.finished_at or self.elapsed for j in self.jobs)
        counts = [0] * len(self.jobs)
        for job, when in self._done_times:
            if when <= end:
                counts[job] += 1
        fair = sum(counts) / len(counts)
        return [c / fair for c in counts]

    _done_times: list[tuple[int, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures."""
        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "of_limit": round(self.of_limit, 3),
            "done_of_limit": round(self.done_of_limit, 3),
            "refused_share": round(self.refused_share, 4),
            "elapsed": round(self.elapsed, 2),
        }
        if self.scenario.windows and self.scenario.rate is None:
            out["of_ideal"] = round(self.of_ideal(), 3)
        if len(self.jobs) > 1:
            out["shares"] = [round(s, 3) for s in self.shares()]
        return out


class _Sim:
    """The event loop of one run: a heap of (time, order, action)."""

    def __init__(self, scenario: Scenario, controller: Controller) -> None:
        self.s = scenario
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._order = 0
        self.random = random.Random(scenario.seed)
        self.limiter = Limiter(
            scenario.rate,
            [RateWindow(limit, interval) for limit, interval in scenario.windows],
            lambda: self.now,
            headers=scenario.headers,
            other_traffic=scenario.other_traffic,
            seed=scenario.seed,
            burst=scenario.burst,
        )
        self.pace = Pace(controller)  # type: ignore[arg-type]
        self.jobs = [JobFigures() for _ in range(scenario.jobs)]
        self.todo = [scenario.requests] * scenario.jobs
        self.waiting: list[deque[int]] = [deque() for _ in range(scenario.jobs)]
        self.rotation: deque[int] = deque()
        self.dispatch_at: float | None = None
        self.series: Counter[tuple[int, str]] = Counter()
        self.done_times: list[tuple[int, float]] = []
        self.rates: list[float | None] = []

    def at(self, when: float, action: Callable[[], None]) -> None:
        self._order += 1
        heapq.heappush(self._events, (when, self._order, action))

    def run(self) -> Result:
        s = self.s
        start = s.offset
        for job in range(s.jobs):
            workers = s.concurrency if isinstance(s.concurrency, int) else s.concurrency[job]
            for _ in range(workers):
                self.at(start, lambda job=job: self.want_turn(job, 0))
        if s.rate is not None and not s.windows and s.drain:
            self.at(start, self.drain)
        if s.other_client:
            self.at(start, self.other_client)
        if s.rate_change is not None:
            after, rate = s.rate_change
            self.at(start + after, lambda: self.limiter.set_rate(rate))
        for second in range(int(s.horizon)):
            self.at(start + second, self.sample_rate)
        while self._events and not all(j.finished_at for j in self.jobs):
            when, _, action = heapq.heappop(self._events)
            if when > start + s.horizon:
                break
            self.now = when
            action()
        end = max((j.finished_at or self.now) for j in self.jobs)
        seconds = int(end - start) + 1
        series = [[self.series[(t, k)] for k in ("sent", "ok", "refused")] for t in range(seconds)]
        result = Result(s, self.jobs, end - start, series, self.rates[:seconds])
        result._done_times = self.done_times
        return result

    def drain(self) -> None:
        """Spend the server's initial burst: the figures are "of R", with no burst credit."""
        while self.limiter.admit() is None:
            pass

    def sample_rate(self) -> None:
        self.rates.append(self.pace.rate)

    def other_client(self) -> None:
        until = self.s.other_client_until
        if until is not None and self.now >= self.s.offset + until:
            return  # the neighbour leaves
        self.limiter.admit()
        self.at(self.now + 1.0 / (self.s.limit * self.s.other_client), self.other_client)

    # -- the budget: round-robin between jobs, one pace ----------------------------------

    def want_turn(self, job: int, attempt: int) -> None:
        if self.todo[job] <= 0 and attempt == 0:
            return
        if attempt == 0:
            self.todo[job] -= 1
        if not self.waiting[job]:
            self.rotation.append(job)
        self.waiting[job].append(attempt)
        self.dispatch()

    def dispatch(self) -> None:
        while self.rotation:
            wait = self.pace.wait(self.now)
            if wait > 0:
                when = self.now + wait
                pending = self.dispatch_at
                if pending is None or pending > when or pending <= self.now:
                    self.dispatch_at = when
                    self.at(when, self.dispatch)
                return
            job = self.rotation.popleft()
            attempt = self.waiting[job].popleft()
            if self.waiting[job]:
                self.rotation.append(job)
            granted = self.pace.grant(self.now)
            self.send(job, attempt, granted)

    # -- the server and the answers ------------------------------------------------------

    def send(self, job: int, attempt: int, granted: float) -> None:
        s = self.s
        self.jobs[job].sent += 1
        self.series[(int(self.now - s.offset), "sent")] += 1
        latency = s.latency + self.random.random() * s.jitter
        self.at(self.now + latency / 2, lambda: self.arrive(job, attempt, granted, latency / 2))

    def arrive(self, job: int, attempt: int, granted: float, back: float) -> None:
        headers = self.limiter.admit()
        roll = self.random.random()
        if headers is not None:
            outcome = classify(429, _BODY, headers, ["x"])
        elif roll < self.s.error_5xx:
            outcome = Outcome(Kind.TRANSIENT, 503, maybe_applied=True)
        elif roll < self.s.error_5xx + self.s.html_502:
            outcome = Outcome(Kind.TRANSIENT, 502, maybe_applied=True)
        else:
            outcome = Outcome(Kind.SUCCESS, 200)
        self.at(self.now + back, lambda: self.answer(job, attempt, granted, outcome))

    def answer(self, job: int, attempt: int, granted: float, outcome: Outcome) -> None:
        self.pace.observe(self.now, granted, outcome)
        second = int(self.now - self.s.offset)
        figures = self.jobs[job]
        if outcome.kind is not Kind.THROTTLED:
            figures.admitted += 1
        if outcome.kind is Kind.SUCCESS:
            self.series[(second, "ok")] += 1
            figures.done += 1
            self.done_times.append((job, self.now))
            if self.todo[job] <= 0 and figures.done >= self.s.requests:
                figures.finished_at = self.now - self.s.offset
            self.want_turn(job, 0)
            return
        if outcome.kind is Kind.THROTTLED:
            self.series[(second, "refused")] += 1
            figures.refused += 1
        wait = self.retry_wait(outcome, attempt + 1)
        self.at(self.now + wait, lambda: self.want_turn(job, attempt + 1))

    def retry_wait(self, outcome: Outcome, attempt: int) -> float:
        """The pipeline's retry wait: none after a stated 429 (the gate waits), else the
        bare Retry-After, else capped exponential backoff with full jitter."""
        if outcome.kind is Kind.THROTTLED and outcome.retry_after is not None:
            return 0.0 if outcome.limit is not None else outcome.retry_after
        return self.random.uniform(0, min(30.0, 0.5 * 2 ** (attempt - 1)))


def simulate(scenario: Scenario, controller: Controller | None = None) -> Result:
    """Run ``scenario`` with ``controller`` (bulkdel's own by default)."""
    return _Sim(scenario, controller or PaceController()).run()


#: the floors' scenarios, R = 100 requests per second unless said
FLOORS: tuple[Scenario, ...] = (
    Scenario("alone, limit stated"),
    Scenario("alone, window 1000/15s", rate=None, windows=((1000, 15.0),), requests=2001),
    Scenario("alone, Retry-After only", headers=LimitHeaders.RETRY_AFTER),
    Scenario("alone, no header", headers=LimitHeaders.NONE),
    Scenario("1% refused by other traffic", other_traffic=0.01),
    Scenario("another client spends 40%", other_client=0.4),
    Scenario("2 jobs", jobs=2, requests=1500),
    Scenario("8 jobs", jobs=8, requests=600),
)


#: a neighbour that leaves: another client spends 60% of R for 6, 9 or 12 s, then stops
NEIGHBOUR_LEAVES: tuple[Scenario, ...] = tuple(
    Scenario(
        f"neighbour leaves at {until:g} s, {headers.value}",
        other_client=0.6,
        other_client_until=until,
        requests=2000,
        headers=headers,
    )
    for headers in (LimitHeaders.FULL, LimitHeaders.NONE)
    for until in (6.0, 9.0, 12.0)
)


#: harsher cases that tell designs apart (no floor; reported beside the floors)
STRESS: tuple[Scenario, ...] = (
    Scenario("3% refused by other traffic", other_traffic=0.03),
    Scenario("other client 40% + 1% refused", other_client=0.4, other_traffic=0.01),
    Scenario("no header, limit halves at 10 s", headers=LimitHeaders.NONE, rate_change=(10, 50)),
    Scenario("stated, limit halves at 10 s", rate_change=(10, 50)),
    Scenario("no header, 100 ms latency", headers=LimitHeaders.NONE, latency=0.1, jitter=0.05),
    Scenario("limit stated, R=20", rate=20.0, requests=1200),
)


def main(argv: Sequence[str] = ()) -> None:
    """Print every floor scenario's figures (with and without 5xx) as JSON lines."""
    for scenario in FLOORS + STRESS:
        for variant in (scenario, scenario.with_faults()):
            print(json.dumps(simulate(variant).summary()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
