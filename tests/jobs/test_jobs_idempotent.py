"""Scripts a retry (or a stalled connection) can run twice change nothing the second time:
SUBMIT is compared and set on the committed position, SETTLE is keyed by its entry, and a
take retried after its answer was lost hands out the batches of the lost answer, no other."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bulkdel.core.redis_connection import RedisWait
from bulkdel.core.stop import StopSignal
from bulkdel.jobs import Submitter, connect, job_status
from bulkdel.jobs.claim import Claims
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.jobs.scripts import CREATE, SETTLE, SUBMIT, TAKE, TAKEOVER
from tests.fault_proxy import FaultProxy
from tests.jobs.helpers import chunks, ids
from tests.redis_server import RedisServer


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


def _submit_args(batch: list[str], position: int, after: int) -> list[Any]:
    n = len(batch)
    return [1000, position, " ".join(batch), n, 0, 0, n, "", "", "0", f"d{position}", after]


async def test_submit_run_twice_commits_once_and_a_rollback_is_told(redis: Any) -> None:
    """Fails before the fix: the second run added the batch again."""
    keys = JobKeys.of("i")
    await redis.register_script(CREATE)(
        keys=[keys.meta, keys.batches], args=[GROUP, "fp", 100, "f"]
    )
    submit = redis.register_script(SUBMIT)
    script_keys = [keys.meta, keys.batches, keys.counts, keys.invalid, keys.duplicates]
    for _ in range(2):
        assert await submit(keys=script_keys, args=_submit_args(ids(100), 100, 0)) == 1
    assert await redis.xlen(keys.batches) == 1
    assert (await job_status(redis, "i")).counts.read == 100
    # a commit after a position Redis no longer holds: it went back in time
    answer = await submit(keys=script_keys, args=_submit_args(ids(100, 500), 600, 500))
    assert answer == [-3, 100]
    # re-submitted below the highest position seen: "may have been sent"
    assert await submit(keys=script_keys, args=_submit_args(ids(100, 100), 200, 100)) == 1
    entries = await redis.xrange(keys.batches)
    assert entries[-1][1].get("e") == "1" and "e" not in entries[0][1]


async def test_settle_run_twice_records_once(redis: Any) -> None:
    """Fails before the fix: the second run counted a late settle and its requests again."""
    keys = JobKeys.of("j")
    await redis.register_script(CREATE)(
        keys=[keys.meta, keys.batches], args=[GROUP, "fp", 100, "f"]
    )
    script_keys = [keys.meta, keys.batches, keys.counts, keys.invalid, keys.duplicates]
    await redis.register_script(SUBMIT)(keys=script_keys, args=_submit_args(ids(100), 100, 0))
    entry = (await redis.xreadgroup(GROUP, "A", {keys.batches: ">"}, count=1))[0][1][0][0]
    settle = redis.register_script(SETTLE)
    args = [GROUP, entry, "A", "0", " ".join(ids(100)), "", "", json.dumps([]), 1, 0, "{}"]
    all_keys = [keys.meta, keys.batches, keys.counts, keys.results, keys.marks, keys.workers]
    for _ in range(2):
        assert await settle(keys=[*all_keys, keys.settled], args=args) == 1
    status = await job_status(redis, "j")
    assert status.counts.deleted == 100 and status.requests["sent"] == 1
    assert status.workers["A"].get("late", 0) == 0 and await redis.xlen(keys.results) == 1


async def test_a_settle_of_a_batch_redis_forgot_is_recorded(redis: Any) -> None:
    """Fails before the fix: a batch Redis no longer knew was a 'late' settle, its outcome
    dropped (restored from an older snapshot, the server's deletions were on record
    nowhere)."""
    keys = JobKeys.of("k")
    await redis.register_script(CREATE)(
        keys=[keys.meta, keys.batches], args=[GROUP, "fp", 100, "f"]
    )
    settle = redis.register_script(SETTLE)
    args = [GROUP, "1-1", "A", "0", " ".join(ids(100)), "", "", json.dumps([]), 1, 0, "{}"]
    all_keys = [keys.meta, keys.batches, keys.counts, keys.results, keys.marks, keys.workers]
    assert await settle(keys=[*all_keys, keys.settled], args=args) == 1
    assert (await job_status(redis, "k")).counts.deleted == 100


async def _pending(redis: Any, keys: JobKeys, worker: str) -> list[str]:
    rows = await redis.xpending_range(keys.batches, GROUP, "-", "+", 100, consumername=worker)
    return sorted(row["message_id"] for row in rows)


@pytest.mark.parametrize("how", ["take", "take_over"])
async def test_a_take_whose_answer_was_lost_is_not_handed_out_twice(
    redis: Any, redis_server: RedisServer, how: str
) -> None:
    """The connection dies after the take reached Redis: its retry gets the same batches.
    Fails before the fix: the retry took other batches, and those of the lost answer stayed
    pending on the worker, held by nobody until their visibility timeout."""
    await Submitter(redis, "t", batch_size=10).submit(chunks(ids(100)), "fp")
    keys = JobKeys.of("t")
    stop = StopSignal()
    if how == "take_over":  # 5 batches left idle by a dead worker
        await redis.xreadgroup(GROUP, "dead", {keys.batches: ">"}, count=5)
    with FaultProxy(("127.0.0.1", redis_server.port)) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        client = connect(url)
        claims = Claims(client, keys, "w", 0.001 if how == "take_over" else 60, RedisWait(url))
        # (a take over would take our own too, idle past 1 ms: none held there)
        first = (
            [] if how == "take_over" else [e for e, _ in await claims.read(2, stop, set(), block=0)]
        )
        await client.ping()  # connected, and the scripts loaded, before answers are lost
        for script in (TAKE, TAKEOVER):
            await redis.script_load(script)
        proxy.lose_answers()
        if how == "take":
            lost = asyncio.create_task(claims.read(3, stop, set(first), block=0))
        else:
            lost = asyncio.create_task(claims.take_over(3, set(first), stop))
        while len(await _pending(redis, keys, "w")) < len(first) + 3:  # the take ran
            await asyncio.sleep(0.01)
        proxy.cut()
        proxy.resume()
        got = [entry_id for entry_id, _ in await lost]
        await client.aclose()
    assert len(got) == 3
    assert sorted(first + got) == await _pending(redis, keys, "w")
