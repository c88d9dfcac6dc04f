"""``job submit`` reads its input through the ingest of ``bulkdel delete``: the same id rule,
de-duplication and batch cuts (``bulkdel.engine.ingest``), followed id by id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bulkdel import BulkDeleter, Settings
from bulkdel.engine.ingest import Accepted, Batches, Ingest
from bulkdel.engine.sources import iterable_chunks
from bulkdel.jobs import Submitter, connect, job_status
from bulkdel.jobs.redis_keys import JobKeys
from bulkdel.models import Chunk
from tests.helpers import KEY, MakeFake
from tests.jobs.helpers import ids
from tests.redis_server import RedisServer


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


class _Seen:
    """What went through ``Ingest.accept`` and ``Batches``, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.accepted: list[tuple[list[str], list[int], list[int]]] = []
        self.batches: list[list[str]] = []
        accept, add, rest = Ingest.accept, Batches.add, Batches.rest

        async def spy_accept(ingest: Ingest, chunk: Chunk) -> Accepted:
            got = await accept(ingest, chunk)
            invalid = [at for at, _ in got.invalid]
            self.accepted.append((got.fresh, invalid, [at for at, _ in got.duplicates]))
            return got

        def spy_add(cut: Batches, *args: Any) -> list[tuple[list[str], int]]:
            full = add(cut, *args)
            self.batches += [batch for batch, _ in full]
            return full

        def spy_rest(cut: Batches) -> list[str]:
            left = rest(cut)
            if left:
                self.batches.append(left)
            return left

        monkeypatch.setattr(Ingest, "accept", spy_accept)
        monkeypatch.setattr(Batches, "add", spy_add)
        monkeypatch.setattr(Batches, "rest", spy_rest)

    def take(self) -> tuple[list[Any], list[list[str]]]:
        taken = (self.accepted, self.batches)
        self.accepted, self.batches = [], []
        return taken


async def test_an_id_goes_through_the_same_ingest_in_delete_and_submit(
    redis: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_fake: MakeFake
) -> None:
    """Fails before the fix: the submitter had a validate/dedupe/batch loop of its own."""
    good = ids(2600)
    values = [*good[:1500], "not an id", *good[:40], "x", *good[1500:], "short", *good[7:9]]
    seen = _Seen(monkeypatch)
    server = await make_fake()
    settings = Settings(base_url=server.url, dry_run=True, batch_size=30)
    report = await BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "r").run(values)
    by_delete = seen.take()
    assert by_delete[0] and by_delete[1]
    result = await Submitter(redis, "same", batch_size=30).submit(iterable_chunks(values), "fp")
    assert result.complete
    by_submit = seen.take()
    assert by_submit == by_delete
    keys = JobKeys.of("same")
    stream = [fields["ids"].split() for _, fields in await redis.xrange(keys.batches)]
    assert stream == by_delete[1]
    counts = (await job_status(redis, "same")).counts
    mine = (counts.read, counts.invalid, counts.duplicate, counts.unique)
    assert mine == (report.counts.read, 3, 42, 2600)
    assert mine == (
        report.counts.read,
        report.counts.invalid,
        report.counts.duplicate,
        report.counts.unique,
    )


async def test_a_resumed_submit_skips_what_was_committed_but_finds_its_repeats(
    redis: Any,
) -> None:
    """Items up to the committed position only rebuild the de-duplication."""
    values = [*ids(300), "bad one", *ids(20)]
    keys = JobKeys.of("half")

    async def first_half() -> AsyncIterator[Chunk]:
        async for chunk in iterable_chunks(values[:150]):
            yield chunk
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        await Submitter(redis, "half", batch_size=50).submit(first_half(), "fp")
    position = int(await redis.hget(keys.meta, "position"))
    assert position == 150
    again = await Submitter(redis, "half", batch_size=50).submit(iterable_chunks(values), "fp")
    assert again.complete and again.resumed_at == 150
    counts = (await job_status(redis, "half")).counts
    assert (counts.read, counts.invalid, counts.duplicate, counts.unique) == (321, 1, 20, 300)
    stream = [fields["ids"].split() for _, fields in await redis.xrange(keys.batches)]
    assert [i for batch in stream for i in batch] == ids(300)
