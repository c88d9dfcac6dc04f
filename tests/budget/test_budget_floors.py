"""Every floor of the shared-budget issue, on the deterministic simulation (virtual time).

The simulation runs bulkdel's own ``Pace`` and ``PaceController`` against the fake server's
own limiter; the same rows run on real processes in ``python -m benchmarks --only budget``.
"""

from __future__ import annotations

import pytest

from tests.budget.budget_candidates import Cubic
from tests.budget.budget_sim import FLOORS, NEIGHBOUR_LEAVES, Result, Scenario, simulate

#: scenario name -> (throughput floor, 429 share cap); throughput is "of R" (of the share the
#: other client leaves), except for the long window, which is "of ideal"
FLOOR: dict[str, tuple[float, float]] = {
    "alone, limit stated": (0.97, 0.01),
    "alone, window 1000/15s": (0.97, 0.01),
    "alone, Retry-After only": (0.90, 0.05),
    "alone, no header": (0.90, 0.05),
    # the other traffic's own 1% is refused whatever the pace; the cap leaves 1% for ours
    "1% refused by other traffic": (0.90, 0.02),
    "another client spends 40%": (0.90, 0.05),
    "2 jobs": (0.95, 0.02),
    "8 jobs": (0.95, 0.02),
}


def _throughput(result: Result) -> float:
    if result.scenario.windows and result.scenario.rate is None:
        return result.of_ideal()
    return result.of_limit


def _rows() -> list[Scenario]:
    return [variant for row in FLOORS for variant in (row, row.with_faults())]


@pytest.mark.parametrize("scenario", _rows(), ids=lambda s: s.name)
def test_each_floor_holds(scenario: Scenario) -> None:
    """Throughput at or over the floor, 429 share at or under the cap, fair shares ±20%."""
    floor, cap = FLOOR[scenario.name.removesuffix(" +5xx")]
    result = simulate(scenario)
    assert _throughput(result) >= floor, result.summary()
    assert result.refused_share <= cap, result.summary()
    if scenario.jobs > 1:
        assert all(0.8 <= share <= 1.2 for share in result.shares()), result.summary()
    assert all(job.finished_at is not None for job in result.jobs), "a job did not finish"


def test_the_floors_catch_round_ones_controller() -> None:
    """Round one's controller (every fresh 429 cuts the pace by 0.3) collapses under other
    traffic's random refusals: the floor test above would fail with it."""
    row = next(s for s in FLOORS if s.name == "1% refused by other traffic")
    assert simulate(row, Cubic()).of_limit < FLOOR[row.name][0]


def test_shares_are_fair_whatever_each_jobs_concurrency() -> None:
    """A job with 16 workers gets no more than one with 2: turns go job by job."""
    result = simulate(Scenario("2 jobs", jobs=2, requests=1500, concurrency=(16, 2)))
    assert all(0.8 <= share <= 1.2 for share in result.shares()), result.summary()


@pytest.mark.parametrize("scenario", NEIGHBOUR_LEAVES, ids=lambda s: s.name)
def test_the_room_a_neighbour_leaves_is_taken_back_within_3_s(scenario: Scenario) -> None:
    """Another client spends 60% of R for 6, 9 or 12 s, then stops: in the fourth second
    after it left, the job gets at least 0.9 of R answered (before: 0.55 at 6 s, one step
    of 2-10% a second); while it was there, the job's 429 share keeps under the cap of the
    floor of another client (from the second second: the first is the first contact)."""
    result = simulate(scenario)
    assert scenario.other_client_until is not None
    after = int(scenario.other_client_until) + 3
    assert result.series[after][1] >= 0.9 * (scenario.rate or 0), result.series
    beside = result.series[1 : int(scenario.other_client_until)]
    refused = sum(second[2] for second in beside) / sum(second[0] for second in beside)
    assert refused <= FLOOR["another client spends 40%"][1]
