"""A session the caller owns does not change what an answer means."""

from __future__ import annotations

import aiohttp

from bulkdel import delete_batch
from bulkdel.testing import FakeImageKit
from tests.helpers import KEY, ThreadedServer, hex_ids


async def test_a_session_that_raises_for_status_still_reads_a_404s_missing_ids() -> None:
    """With the caller's ``ClientSession(raise_for_status=True)``, a 404 naming missing ids is
    still that answer: the missing ids are missing and the rest are deleted (fails before: the
    404 became a transport error, retried, and every id failed "outcome unknown")."""
    ids = hex_ids(100)
    present = set(ids[::3])
    with ThreadedServer(FakeImageKit(KEY, existing=present)) as server:
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            outcome = await delete_batch(
                ids, private_key=KEY, base_url=server.url, session=session, backoff_base=0.001
            )
    assert set(outcome.deleted) == present == server.deleted
    assert set(outcome.missing) == set(ids) - present
    assert outcome.failed == [] and outcome.complete
