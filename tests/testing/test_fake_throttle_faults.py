"""The fake ImageKit server's throttling (rate and fixed windows, ImageKit's headers) and its
faults, each as a client sees it, repeatable from a seed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bulkdel.imagekit import DeleteClient
from bulkdel.models import Kind, Outcome
from bulkdel.testing import FakeImageKit, Faults, RateWindow
from tests.helpers import KEY, MakeFake
from tests.testing.fake_http import Clock, ids, post

# --- throttling ----------------------------------------------------------------------------


async def test_rate_throttles_with_imagekit_headers(make_fake: MakeFake) -> None:
    """Past ``rate`` requests a second -> 429 with X-RateLimit-*; a token comes back in 1/rate."""
    clock = Clock()
    server = await make_fake(rate=2.0, clock=clock)
    assert (await post(server, file_ids=ids(1, "a")))[0] == 200
    assert (await post(server, file_ids=ids(1, "b")))[0] == 200
    status, data, headers = await post(server, file_ids=ids(1, "c"))
    assert status == 429
    assert data["message"] == "Too many requests."
    assert headers["X-RateLimit-Limit"] == "2"
    assert headers["X-RateLimit-Reset"] == "500"
    assert headers["X-RateLimit-Interval"] == "1000"
    assert server.exists(ids(1, "c")[0])  # the 429 deleted nothing
    clock.now += 0.25
    status, _, headers = await post(server, file_ids=ids(1, "c"))
    assert (status, headers["X-RateLimit-Reset"]) == (429, "250")
    clock.now += 0.25
    assert (await post(server, file_ids=ids(1, "c")))[0] == 200
    assert server.stats.by_status[429] == 2
    assert server.stats.by_status[200] == 3


async def test_client_reads_the_servers_wait() -> None:
    """The client's THROTTLED outcome carries the wait the fake server asked for."""
    clock = Clock()
    async with (
        FakeImageKit(KEY, rate=4.0, clock=clock) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        for batch in (ids(1, "a"), ids(1, "b"), ids(1, "c"), ids(1, "d")):
            assert (await client.delete_batch(batch)).kind is Kind.SUCCESS
        outcome = await client.delete_batch(ids(1, "e"))
    assert outcome.kind is Kind.THROTTLED
    assert outcome.retry_after == pytest.approx(0.25)
    assert server.deleted == {b[0] for b in (ids(1, "a"), ids(1, "b"), ids(1, "c"), ids(1, "d"))}


async def test_fixed_window_resets_after_its_interval(make_fake: MakeFake) -> None:
    """A RateWindow admits ``limit`` requests per fixed interval, then resets all at once."""
    clock = Clock()
    server = await make_fake(windows=[RateWindow(3, 10.0)], clock=clock)
    batches = iter(ids(20))
    statuses = [(await post(server, file_ids=[next(batches)]))[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    clock.now += 4.0
    status, _, headers = await post(server, file_ids=[next(batches)])
    assert status == 429
    assert headers["X-RateLimit-Limit"] == "3"
    assert headers["X-RateLimit-Reset"] == "6000"
    assert headers["X-RateLimit-Interval"] == "10000"
    clock.now += 5.5
    status, _, headers = await post(server, file_ids=[next(batches)])
    assert (status, headers["X-RateLimit-Reset"]) == (429, "500")
    clock.now += 0.5
    statuses = [(await post(server, file_ids=[next(batches)]))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    clock.now += 25.0  # 2.5 intervals later: windows stay on their 10 s grid
    statuses = [(await post(server, file_ids=[next(batches)]))[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    status, _, headers = await post(server, file_ids=[next(batches)])
    assert (status, headers["X-RateLimit-Reset"]) == (429, "5000")
    assert len(server.deleted) == 9


async def test_longest_refusing_window_sets_the_wait(make_fake: MakeFake) -> None:
    """With several windows spent, the 429 names the one that resets last."""
    clock = Clock()
    windows = [RateWindow(1, 1.0), RateWindow(2, 60.0)]
    server = await make_fake(windows=windows, clock=clock)
    assert (await post(server, file_ids=ids(1, "a")))[0] == 200
    clock.now += 1.0
    assert (await post(server, file_ids=ids(1, "b")))[0] == 200
    status, _, headers = await post(server, file_ids=ids(1, "c"))
    assert status == 429
    assert headers["X-RateLimit-Limit"] == "2"
    assert headers["X-RateLimit-Reset"] == "59000"
    assert headers["X-RateLimit-Interval"] == "60000"


# --- faults --------------------------------------------------------------------------------


async def test_fault_5xx_deletes_nothing(make_fake: MakeFake) -> None:
    """error_5xx -> a JSON 503 and nothing deleted."""
    server = await make_fake(faults=Faults(error_5xx=1.0))
    status, data, _ = await post(server, file_ids=ids(3))
    assert status == 503
    assert data["message"] == "Service temporarily unavailable."
    assert server.deleted == set()
    assert server.stats.faults["error_5xx"] == 1


async def test_fault_html_error_is_a_502_page(make_fake: MakeFake) -> None:
    """html_error -> a 502 HTML page (a proxy in the way), nothing deleted."""
    server = await make_fake(faults=Faults(html_error=1.0))
    async with DeleteClient(KEY, base_url=server.url) as client:
        outcome = await client.delete_batch(ids(3))
    status, text, headers = await post(server, file_ids=ids(3))
    assert status == 502
    assert headers["Content-Type"].startswith("text/html")
    assert "<html>" in text
    assert outcome.kind is Kind.TRANSIENT
    assert "502 Bad Gateway" in outcome.message
    assert server.deleted == set()


async def test_fault_drop_before_deletes_nothing() -> None:
    """drop_before closes the connection before deleting: the client sees a lost connection."""
    async with (
        FakeImageKit(KEY, faults=Faults(drop_before=1.0)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcome = await client.delete_batch(ids(3))
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied
    assert server.deleted == set()
    assert server.stats.requests == 1
    assert sum(server.stats.by_status.values()) == 0  # a dropped answer has no status
    assert server.stats.faults["drop_before"] == 1


async def test_fault_drop_after_deletes() -> None:
    """drop_after deletes, then drops the answer; sent again, the ids are missing (404)."""
    batch = ids(3)
    async with (
        FakeImageKit(KEY, faults=Faults(drop_after=1.0)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcome = await client.delete_batch(batch)
        retry = await client.delete_batch(batch)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied
    assert server.deleted == set(batch)
    assert retry.kind is Kind.MISSING
    assert retry.missing == tuple(batch)
    assert server.stats.faults["drop_after"] == 1


async def test_fault_slow_after_deletes_but_answers_late() -> None:
    """slow_after deletes at once and holds the answer past a short client timeout."""
    batch = ids(3)
    async with (
        FakeImageKit(KEY, faults=Faults(slow_after=1.0, slow_seconds=30.0)) as server,
        DeleteClient(KEY, base_url=server.url, timeout=0.2) as client,
    ):
        outcome = await client.delete_batch(batch)
        assert outcome == Outcome(Kind.TRANSIENT, None, message="timed out", maybe_applied=True)
        assert server.deleted == set(batch)
        assert server.stats.faults["slow_after"] == 1


async def test_fault_slow_after_answer_does_arrive() -> None:
    """A slow_after answer, when waited for, is the normal 200."""
    batch = ids(3)
    async with (
        FakeImageKit(KEY, faults=Faults(slow_after=1.0, slow_seconds=0.05)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcome = await client.delete_batch(batch)
    assert outcome == Outcome(Kind.SUCCESS, 200, deleted=tuple(batch))


async def test_fault_transient_207_goes_away_on_retry() -> None:
    """transient_207 errors some ids (not deleted); sent again, they are deleted."""
    pending = ids(40)
    async with (
        FakeImageKit(KEY, faults=Faults(seed=3, transient_207=0.3)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        first = await client.delete_batch(pending)
        assert first.status == 207
        assert first.errors
        assert {e.error for e in first.errors} == {"Internal error, please retry."}
        errored = [e.file_id for e in first.errors]
        assert all(server.exists(i) for i in errored)
        pending = errored
        for _ in range(20):
            outcome = await client.delete_batch(pending)
            assert outcome.kind is Kind.SUCCESS
            pending = [e.file_id for e in outcome.errors]
            if not pending:
                break
    assert pending == []
    assert server.deleted == set(ids(40))
    assert server.stats.faults["transient_207"] >= len(errored)


async def test_fault_permanent_errors_never_delete() -> None:
    """permanent_errors ids come back as 207 errors every time and are never deleted."""
    locked = ids(2, "d")
    batch = [*ids(3), *locked]
    async with (
        FakeImageKit(KEY, faults=Faults(permanent_errors=frozenset(locked))) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        first = await client.delete_batch(batch)
        again = await client.delete_batch(locked)
    assert first.status == 207
    assert first.deleted == tuple(ids(3))
    assert [e.file_id for e in first.errors] == locked
    assert {e.error for e in again.errors} == {"File is locked and cannot be deleted."}
    assert again.deleted == ()
    assert server.deleted == set(ids(3))


async def test_fault_throttle_burst_is_a_429_with_headers(make_fake: MakeFake) -> None:
    """throttle_burst -> 429 with the ImageKit headers, though no rate is set; nothing deleted."""
    server = await make_fake(faults=Faults(throttle_burst=1.0))
    status, _, headers = await post(server, file_ids=ids(2))
    assert status == 429
    assert {"X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Interval"} <= set(headers)
    assert server.deleted == set()
    assert server.stats.faults["throttle_burst"] == 1


async def test_fault_latency_keeps_requests_in_flight_together() -> None:
    """latency holds each answer, so concurrent requests overlap (max_in_flight rises)."""
    async with (
        FakeImageKit(KEY, faults=Faults(latency=0.05, latency_jitter=0.01)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcomes = await asyncio.gather(*(client.delete_batch([i]) for i in ids(6)))
    assert all(o.kind is Kind.SUCCESS for o in outcomes)
    assert server.stats.max_in_flight == 6
    assert server.stats.in_flight == 0


async def test_without_latency_answers_do_not_overlap() -> None:
    """The control for the test above: with no latency an answer never yields."""
    async with (
        FakeImageKit(KEY) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        await asyncio.gather(*(client.delete_batch([i]) for i in ids(6)))
    assert server.stats.max_in_flight == 1


async def _fault_run(seed: int) -> list[tuple[int, Any]]:
    faults = Faults(seed=seed, error_5xx=0.2, html_error=0.1, transient_207=0.1)
    answers = []
    async with FakeImageKit(KEY, faults=faults) as server:
        for n in range(15):
            status, data, _ = await post(server, file_ids=ids(10, f"{n:x}"))
            answers.append((status, data))
    return answers


async def test_same_seed_repeats_the_same_faults() -> None:
    """The same seed gives the same answers in the same order; another seed differs."""
    first, second, other = await _fault_run(11), await _fault_run(11), await _fault_run(12)
    assert first == second
    assert first != other
    assert {status for status, _ in first} >= {200, 207, 503}
