"""``delete_batch`` keeps its default budgets between calls, for the most recent accounts
only (a service that serves many accounts does not keep a budget per account for ever)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bulkdel.budget import budget_for
from bulkdel.delete import batch


@pytest.fixture(autouse=True)
def _empty_kept() -> Iterator[None]:
    saved = dict(batch._KEPT)
    batch._KEPT.clear()
    yield
    batch._KEPT.clear()
    batch._KEPT.update(saved)


def test_only_the_most_recent_accounts_keep_their_budget() -> None:
    """Past ``_KEPT_ACCOUNTS`` accounts, the one used least recently is let go; an account
    used again is kept, and gets the same budget."""
    url = "https://api.example"
    first = batch._kept_budget(url, "private_0")
    for i in range(1, batch._KEPT_ACCOUNTS + 50):
        batch._kept_budget(url, f"private_{i}")
        assert batch._kept_budget(url, "private_0") is first  # used again: the most recent
    assert len(batch._KEPT) == batch._KEPT_ACCOUNTS
    assert batch._kept_budget(url, "private_0") is first
    assert budget_for(url, "private_0") is first
    gone = batch._kept_budget(url, "private_1")  # long since let go: made afresh
    assert len(batch._KEPT) == batch._KEPT_ACCOUNTS
    assert batch._kept_budget(url, "private_1") is gone
