"""``bulkdel.jobs.submit.Submitter`` on its own, against a private redis-server: what it puts
in Redis for a given input (batches, invalid and repeated ids, counts, position), how it
resumes after a partial submit, and its sign of life while it runs. No worker runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from bulkdel.errors import UsageError
from bulkdel.jobs import Submitter, connect
from bulkdel.jobs.redis_keys import REGISTRY, JobKeys
from bulkdel.models import Chunk
from tests.redis_server import RedisServer

JOB = "sub"
KEYS = JobKeys.of(JOB)


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


def _id(n: int) -> str:
    return f"{n:024x}"


class Killed(Exception):
    """The input's reader died (a killed submitter, as far as Redis can tell)."""


async def _chunks(
    parts: Sequence[Sequence[str]],
    *,
    between: Callable[[int], Awaitable[None]] | None = None,
    die_after: int | None = None,
    with_records: bool = False,
) -> AsyncIterator[Chunk]:
    """One chunk a part, lines numbered across them; a value with a space breaks the id
    rule. ``between(n)`` runs once chunk ``n`` is consumed; ``die_after``: the input raises
    after that many chunks; ``with_records``: each id comes with a file record."""
    line = 0
    for n, part in enumerate(parts):
        if die_after is not None and n == die_after:
            raise Killed
        items = []
        for value in part:
            line += 1
            items.append((line, value, "has a space" if " " in value else None))
        records = [{"fileId": v, "name": f"{v}.jpg"} for v in part] if with_records else None
        yield Chunk("ids.txt", items, records)
        if between is not None:
            await between(n)


async def _stream(redis: Any) -> list[list[str]]:
    """The batches on the stream, each as its ids."""
    return [fields["ids"].split(" ") for _, fields in await redis.xrange(KEYS.batches)]


async def _counts(redis: Any) -> dict[str, int]:
    return {k: int(v) for k, v in (await redis.hgetall(KEYS.counts)).items()}


async def _invalid(redis: Any) -> list[dict[str, Any]]:
    blobs = await redis.lrange(KEYS.invalid, 0, -1)
    return [json.loads(line) for blob in blobs for line in blob.splitlines()]


async def _duplicates(redis: Any) -> list[str]:
    return [i for blob in await redis.lrange(KEYS.duplicates, 0, -1) for i in blob.split()]


async def test_the_input_goes_to_the_stream_in_batches_of_batch_size(redis: Any) -> None:
    values = [_id(n) for n in range(8)]
    result = await Submitter(redis, JOB, batch_size=3).submit(
        _chunks([values[:5], values[5:]]), "fp"
    )
    assert (result.batches, result.complete, result.resumed_at) == (3, True, 0)
    assert await _stream(redis) == [values[:3], values[3:6], values[6:]]
    assert await _counts(redis) == {"read": 8, "invalid": 0, "duplicate": 0, "unique": 8}
    meta = await redis.hgetall(KEYS.meta)
    assert (meta["state"], meta["position"], meta["fingerprint"]) == ("submitted", "8", "fp")
    assert (meta["batch_size"], meta["source"]) == ("3", "files")
    assert await redis.sismember(REGISTRY, JOB)


async def test_invalid_and_repeated_ids_are_recorded_not_batched(redis: Any) -> None:
    a, b, c = _id(1), _id(2), _id(3)
    parts = [[a, "not an id", b, a], [c, b, "x y"]]
    await Submitter(redis, JOB, batch_size=100).submit(_chunks(parts), "fp")
    assert await _stream(redis) == [[a, b, c]]
    assert await _counts(redis) == {"read": 7, "invalid": 2, "duplicate": 2, "unique": 3}
    assert await _invalid(redis) == [
        {"source": "ids.txt", "line": 2, "value": "not an id", "reason": "has a space"},
        {"source": "ids.txt", "line": 7, "value": "x y", "reason": "has a space"},
    ]
    assert await _duplicates(redis) == [a, b]


async def test_records_read_before_a_batchs_last_id_are_committed_with_it(redis: Any) -> None:
    """Redis holds, with each batch, the invalid and repeated ids read up to its last id,
    and none read after it: a submitter killed there has committed whole batches only."""
    values = [_id(n) for n in range(4)]
    parts = [["bad 1", values[0], values[0], values[1], "bad 2"], values[2:]]
    seen: list[tuple[Any, ...]] = []

    async def look(n: int) -> None:
        seen.append((await _stream(redis), await _counts(redis), await _duplicates(redis)))

    await Submitter(redis, JOB, batch_size=2).submit(_chunks(parts, between=look), "fp")
    stream, counts, duplicates = seen[0]
    assert stream == [values[:2]]
    assert counts == {"read": 4, "invalid": 1, "duplicate": 1, "unique": 2}
    assert duplicates == [values[0]]
    assert [r["value"] for r in await _invalid(redis)] == ["bad 1", "bad 2"]


async def test_a_chunks_file_records_reach_redis_with_its_first_batch(redis: Any) -> None:
    """No file is deleted unrecorded: a chunk's records are in Redis once a batch holding
    any of its ids is, and not before."""
    values = [_id(n) for n in range(5)]
    seen: list[list[str]] = []

    async def manifest() -> list[str]:
        blobs = await redis.lrange(KEYS.manifest, 0, -1)
        return [json.loads(line)["fileId"] for blob in blobs for line in blob.splitlines()]

    async def look(n: int) -> None:
        seen.append(await manifest())

    parts = [values[:3], values[3:]]
    await Submitter(redis, JOB, batch_size=3).submit(
        _chunks(parts, between=look, with_records=True), "fp"
    )
    assert seen == [values[:3], values[:3]]  # the second chunk's first batch came at the end
    assert await manifest() == values


async def test_a_resumed_submit_adds_only_what_the_killed_one_had_not_committed(
    redis: Any,
) -> None:
    values = [_id(n) for n in range(10)]
    parts = [values[:4], [values[1], *values[4:7]], [values[2], *values[7:]]]
    with pytest.raises(Killed):
        await Submitter(redis, JOB, batch_size=3).submit(_chunks(parts, die_after=2), "fp")
    before = await _stream(redis)
    assert before == [values[:3], values[3:6]]  # the partial batch of values[6] is not in
    assert (await redis.hgetall(KEYS.meta))["position"] == "7"
    result = await Submitter(redis, JOB, batch_size=3).submit(_chunks(parts), "fp")
    assert (result.resumed_at, result.batches, result.complete) == (7, 2, True)
    assert await _stream(redis) == [*before, [values[6], values[7], values[8]], [values[9]]]
    # an id committed before the resume is still a repeat after it
    assert await _duplicates(redis) == [values[1], values[2]]
    assert await _counts(redis) == {"read": 12, "invalid": 0, "duplicate": 2, "unique": 10}


async def test_a_submitted_job_submitted_again_adds_nothing(redis: Any) -> None:
    values = [_id(n) for n in range(5)]
    await Submitter(redis, JOB, batch_size=2).submit(_chunks([values]), "fp")
    again = await Submitter(redis, JOB, batch_size=2).submit(_chunks([values]), "fp")
    assert (again.complete, again.batches, again.resumed_at) == (True, 0, 0)
    assert len(await _stream(redis)) == 3
    assert (await _counts(redis))["read"] == 5


async def test_a_resume_with_other_input_is_refused(redis: Any) -> None:
    values = [_id(n) for n in range(6)]
    with pytest.raises(Killed):
        await Submitter(redis, JOB, batch_size=2).submit(
            _chunks([values[:4], values[4:]], die_after=1), "fp"
        )
    other = [_id(100), *values[1:]]
    with pytest.raises(UsageError, match="holds other input"):
        await Submitter(redis, JOB, batch_size=2).submit(_chunks([other]), "fp")
    assert len(await _stream(redis)) == 2


async def test_a_job_of_another_fingerprint_is_refused(redis: Any) -> None:
    await Submitter(redis, JOB).submit(_chunks([[_id(1)]]), "fp")
    with pytest.raises(UsageError, match="exists for another input"):
        await Submitter(redis, JOB).submit(_chunks([[_id(1)]]), "other")


async def test_a_listing_partly_submitted_cannot_be_resumed(redis: Any) -> None:
    values = [_id(n) for n in range(4)]
    with pytest.raises(Killed):
        await Submitter(redis, JOB, batch_size=2).submit(
            _chunks([values[:2], values[2:]], die_after=1), "fp", resumable=False
        )
    assert (await redis.hgetall(KEYS.meta))["source"] == "listing"
    with pytest.raises(UsageError, match="partly submitted from a listing"):
        await Submitter(redis, JOB, batch_size=2).submit(_chunks([values]), "fp", resumable=False)


async def test_a_full_stream_holds_the_submitter_until_workers_settle(redis: Any) -> None:
    """``max_open`` unsettled batches: the submitter says so once and waits; each batch
    settled (deleted from the stream) lets one more in."""
    values = [_id(n) for n in range(3)]
    full: list[int] = []
    submitter = Submitter(redis, JOB, batch_size=1, max_open=1, on_full=full.append)
    task = asyncio.ensure_future(submitter.submit(_chunks([values]), "fp"))
    taken: list[list[str]] = []
    while not task.done():
        # nothing is settled before the submitter has found the stream full
        for entry, fields in await redis.xrange(KEYS.batches) if full else ():
            taken.append(fields["ids"].split())
            await redis.xdel(KEYS.batches, entry)
        await asyncio.sleep(0.01)
    result = task.result()
    taken += await _stream(redis)
    assert full == [1]
    assert taken == [[v] for v in values]
    assert result.batches == 3 and result.complete


async def test_a_cancel_mid_submit_stops_it_adding_batches(redis: Any) -> None:
    values = [_id(n) for n in range(6)]

    async def cancel(n: int) -> None:
        if n == 0:
            await redis.hset(KEYS.meta, "state", "cancelled")

    result = await Submitter(redis, JOB, batch_size=2).submit(
        _chunks([values[:2], values[2:]], between=cancel), "fp"
    )
    assert result.cancelled and not result.complete
    assert result.batches == 1
    assert await _stream(redis) == [values[:2]]


async def test_a_running_submit_leaves_its_sign_of_life_and_resubmit_command(
    redis: Any,
) -> None:
    """While it reads, the submitter writes the server's time and the command that runs it
    again (``submit_watch``)."""
    beat: dict[str, str] = {}

    async def until_beat(n: int) -> None:
        for _ in range(1000):  # the first beat may come before the job exists: the next
            meta = await redis.hgetall(KEYS.meta)
            if "submit_seen" in meta:
                beat.update(meta)
                return
            await asyncio.sleep(0.01)

    command = "bulkdel job submit ids.txt --job sub"
    submitter = Submitter(redis, JOB, resubmit=command)
    await submitter.submit(_chunks([[_id(1)]], between=until_beat), "fp")
    assert beat["resubmit"] == command
    (now, _) = await redis.time()
    assert 0 <= now - int(beat["submit_seen"]) <= 60  # the server's clock, in seconds


def test_a_batch_size_outside_1_to_100_is_a_usage_error() -> None:
    for size in (0, 101):
        with pytest.raises(UsageError, match="batch_size"):
            Submitter(object(), JOB, batch_size=size)  # type: ignore[arg-type]
