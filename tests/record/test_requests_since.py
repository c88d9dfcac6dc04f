"""``RequestsSince``: each call gives what the run's request figures gained since the last
one, so a job worker adds every request to the job's counts once."""

from __future__ import annotations

from bulkdel.record.ledger import DELETE, LIST, RequestsSince, RequestStats


def test_each_delta_holds_only_what_came_since_the_last() -> None:
    stats = RequestStats()
    since = RequestsSince(stats)
    assert since.delta() == (0, 0, {})
    for _ in range(3):
        stats.sending(DELETE)
    stats.answered(DELETE, 200)
    stats.answered(DELETE, 429)
    stats.retrying(DELETE)
    stats.answered(DELETE, None)
    assert since.delta() == (3, 1, {"200": 1, "429": 1, "error": 1})
    stats.sending(DELETE)
    stats.answered(DELETE, 200)
    stats.sending(LIST)  # listing requests are not the job's delete figures
    assert since.delta() == (1, 0, {"200": 1})
    assert since.delta() == (0, 0, {})
