"""Jobs of one process against one limited fake server share the account's budget by default."""

from __future__ import annotations

import asyncio

from bulkdel import BulkDeleter, Settings, delete_files
from bulkdel.budget import LocalBudget, budget_for
from bulkdel.models import Kind, Outcome
from bulkdel.testing import FakeImageKit
from tests.helpers import hex_ids
from tests.virtual_time import run_virtual

KEY = "shared_budget_key_0123456789"


async def test_two_delete_files_calls_split_one_budget_and_stay_under_2_percent_429s() -> None:
    """Two concurrent calls, same base URL and key: one budget, both finish, < 2% refused.

    With a budget each (round one), two adaptive jobs against a 100/s server drew 17% 429s."""
    first, second = hex_ids(450), hex_ids(450, start=450)
    async with FakeImageKit(KEY, rate=300.0) as server:

        async def job(ids: list[str]) -> object:
            return await delete_files(
                ids, private_key=KEY, base_url=server.url, batch_size=1, concurrency=4
            )

        reports = await asyncio.gather(job(first), job(second))
    assert all(r.complete for r in reports)  # type: ignore[attr-defined]
    assert server.deleted == set(first) | set(second)
    refused = server.stats.by_status[429]
    assert refused < 0.02 * server.stats.requests, server.stats.as_dict()


def test_the_default_budget_is_the_accounts_and_a_given_one_is_used() -> None:
    """``BulkDeleter`` takes the registry's budget for its base URL and key, or the one given."""
    settings = Settings(base_url="https://example.test")
    one = BulkDeleter(KEY, settings=settings)
    two = BulkDeleter(KEY, settings=settings)
    assert one.budget is two.budget is budget_for("https://example.test", KEY)
    own = LocalBudget(rate=5.0)
    assert BulkDeleter(KEY, settings=settings, budget=own).budget is own


class _Recorder:
    """A sender that deletes everything at once and notes when each batch went."""

    def __init__(self) -> None:
        self.sent_at: list[float] = []

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.sent_at.append(asyncio.get_running_loop().time())
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


def test_a_cancelled_job_gives_its_share_back_at_once() -> None:
    """Two jobs on a 10/s budget get 5/s each; once one is cancelled, the other gets 10/s."""

    async def scenario() -> tuple[_Recorder, _Recorder]:
        budget = LocalBudget(rate=10.0)
        first, second = _Recorder(), _Recorder()
        settings = Settings(batch_size=1, concurrency=4)
        one = BulkDeleter(settings=settings, sender=first, budget=budget)
        two = BulkDeleter(settings=settings, sender=second, budget=budget)
        running = asyncio.ensure_future(one.run(hex_ids(1000)))
        other = asyncio.ensure_future(two.run(hex_ids(1000, start=1000)))
        await asyncio.sleep(10.0)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await asyncio.sleep(10.0)
        two.stop()
        await other
        return first, second

    first, second = run_virtual(scenario())
    assert 40 <= sum(1 for t in second.sent_at if 1.0 <= t < 10.0) <= 50  # half of 10/s
    assert not any(t > 10.0 for t in first.sent_at)
    assert sum(1 for t in second.sent_at if 10.5 <= t < 19.5) >= 85  # all of it
