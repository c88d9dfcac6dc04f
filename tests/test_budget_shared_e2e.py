"""Jobs of one process against one limited fake server share the account's budget by default."""

from __future__ import annotations

import asyncio

from bulkdel import delete_files
from bulkdel.budget import LocalBudget, budget_for
from bulkdel.testing import FakeImageKit
from tests.helpers import hex_ids

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
    from bulkdel import BulkDeleter, Settings

    settings = Settings(base_url="https://example.test")
    one = BulkDeleter(KEY, settings=settings)
    two = BulkDeleter(KEY, settings=settings)
    assert one.budget is two.budget is budget_for("https://example.test", KEY)
    own = LocalBudget(rate=5.0)
    assert BulkDeleter(KEY, settings=settings, budget=own).budget is own
