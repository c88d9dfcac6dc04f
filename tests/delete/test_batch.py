"""``delete_batch``: one batch through the pipeline against the fake server, and its
``BatchOutcome`` as a value that survives JSON."""

from __future__ import annotations

import pytest

from bulkdel import jobs
from bulkdel.budget import LocalBudget
from bulkdel.delete.batch import BatchOutcome, delete_batch
from bulkdel.errors import FatalAPIError, UsageError
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import hex_ids

KEY = "private_batch_test_key"


async def test_every_id_ends_deleted_or_missing_and_the_server_agrees() -> None:
    """Existing ids are deleted, unknown ones missing (the 404 re-send), each listed once."""
    ids = hex_ids(100)
    async with FakeImageKit(KEY, existing=ids[:70]) as server:
        outcome = await delete_batch(ids + ids[:5], private_key=KEY, base_url=server.url)
    assert sorted(outcome.deleted) == sorted(ids[:70]) == sorted(server.deleted)
    assert sorted(outcome.missing) == sorted(ids[70:])
    assert (outcome.missing_after_retry, outcome.failed, len(outcome)) == ([], [], 100)


async def test_207_errors_are_retried_and_a_lasting_one_fails_with_its_attempts() -> None:
    """Transient 207 errors go out again until deleted; a locked file fails after
    ``max_attempts`` with the server's reason."""
    ids = hex_ids(60)
    faults = Faults(seed=3, transient_207=0.2, error_5xx=0.3, permanent_errors=frozenset({ids[9]}))
    async with FakeImageKit(KEY, faults=faults) as server:
        outcome = await delete_batch(
            ids, private_key=KEY, base_url=server.url, max_attempts=3, backoff_base=0.001
        )
    assert set(outcome.deleted) == server.deleted
    assert len(outcome) == 60
    failed = {file_id: attempts for file_id, _, _, attempts in outcome.failed}
    assert failed[ids[9]] == 3  # its last answer a 207 error or a 5xx
    assert ids[9] not in server.deleted
    assert len(outcome.deleted) >= 50  # most got through the 5xx and transient 207s
    assert server.stats.faults["error_5xx"] > 0
    assert server.stats.faults["transient_207"] > 0


async def test_a_batch_sent_before_counts_its_404s_as_missing_after_retry() -> None:
    """``in_flight_earlier``: an id the server no longer knows was most likely deleted."""
    ids = hex_ids(4)
    async with FakeImageKit(KEY, existing=ids[:2]) as server:
        outcome = await delete_batch(
            ids, private_key=KEY, base_url=server.url, in_flight_earlier=True
        )
    assert sorted(outcome.missing_after_retry) == sorted(ids[2:])
    assert sorted(outcome.deleted) == sorted(ids[:2])


async def test_too_many_or_invalid_ids_send_nothing() -> None:
    """Over 100 unique ids, or an id that is not one: UsageError naming it, no request."""
    async with FakeImageKit(KEY) as server:
        with pytest.raises(UsageError, match="at most 100"):
            await delete_batch(hex_ids(101), private_key=KEY, base_url=server.url)
        with pytest.raises(UsageError, match="'bad id!'"):
            await delete_batch(["bad id!"], private_key=KEY, base_url=server.url)
        assert server.stats.requests == 0


async def test_a_bad_key_raises_fatal_and_the_budget_is_the_callers() -> None:
    """A wrong key: FatalAPIError with the status (the fake says 403), never the key."""
    budget = LocalBudget(rate=50.0)
    async with FakeImageKit(KEY) as server:
        with pytest.raises(FatalAPIError) as caught:
            await delete_batch(hex_ids(3), private_key="wrong", base_url=server.url, budget=budget)
    assert caught.value.status == 403
    assert "wrong" not in str(caught.value)


def test_the_outcome_survives_json_and_is_the_jobs_own_type() -> None:
    """to_json/from_json give the same value; bad JSON is a ValueError; jobs share the type."""
    outcome = BatchOutcome(
        ["a"], ["b"], ["c"], [("d", "locked", 207, 6), ("e", "timeout", None, 2)]
    )
    assert BatchOutcome.from_json(outcome.to_json()) == outcome
    assert BatchOutcome.from_dict(outcome.to_dict()) == outcome
    for bad in ("[]", '{"deleted": []}', '{"deleted": [1], "missing": [], '
                '"missing_after_retry": [], "failed": []}'):  # fmt: skip
        with pytest.raises(ValueError, match="not a BatchOutcome"):
            BatchOutcome.from_json(bad)
    assert jobs.outcome.BatchOutcome is BatchOutcome
