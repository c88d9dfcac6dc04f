"""Ids from an async iterable (a database cursor): taken in runs, never held back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bulkdel.engine.sources import ITERABLE_CHUNK, iterable_chunks
from tests.helpers import hex_ids


async def test_a_source_that_never_waits_comes_in_runs_not_one_id_a_chunk() -> None:
    """2,500 ids from an async generator that never waits come in a few chunks, every id
    once and in order (fails before: one chunk an id, 15 times slower than a list)."""
    ids = hex_ids(2_500)

    async def source() -> AsyncIterator[str]:
        for file_id in ids:
            yield file_id

    chunks = [chunk async for chunk in iterable_chunks(source())]
    assert len(chunks) <= 2 * (len(ids) // ITERABLE_CHUNK + 1)
    items = [item for chunk in chunks for item in chunk.items]
    assert items == [(n, i, None) for n, i in enumerate(ids, 1)]


async def test_what_a_slow_source_gave_is_handed_over_at_once() -> None:
    """An id given before the source waits (for its next page) is handed over without
    waiting for the next one."""
    more = asyncio.Event()
    ids = hex_ids(2)

    async def source() -> AsyncIterator[str]:
        yield ids[0]
        await more.wait()
        yield ids[1]

    chunks = aiter(iterable_chunks(source()))
    first = await asyncio.wait_for(anext(chunks), 5)
    assert [i for _, i, _ in first.items] == ids[:1]
    more.set()
    second = await asyncio.wait_for(anext(chunks), 5)
    assert second.items == [(2, ids[1], None)]
    with pytest.raises(StopAsyncIteration):
        await anext(chunks)


async def test_a_sources_error_comes_after_the_ids_it_gave() -> None:
    """The source's own error reaches the reader, after every id it gave before it."""
    ids = hex_ids(3)

    async def source() -> AsyncIterator[str]:
        for file_id in ids:
            yield file_id
        raise ConnectionError("cursor lost")

    seen: list[str] = []
    with pytest.raises(ConnectionError, match="cursor lost"):
        async for chunk in iterable_chunks(source()):
            seen.extend(i for _, i, _ in chunk.items)
    assert seen == ids


async def test_a_reader_that_stops_early_closes_the_source() -> None:
    """Reading stopped part way (a stop, a cancel) closes the source's generator."""
    closed = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            n = 0
            while True:
                n += 1
                yield f"{n:024x}"
                await asyncio.sleep(0)
        finally:
            closed.set()

    chunks = iterable_chunks(source())
    await anext(aiter(chunks))
    with contextlib.suppress(StopAsyncIteration):
        await chunks.aclose()  # type: ignore[attr-defined]
    await asyncio.wait_for(closed.wait(), 5)
