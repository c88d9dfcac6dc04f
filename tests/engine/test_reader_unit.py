"""``bulkdel.engine.reader.Reader`` on its own: the batches it hands on, what it puts in the
ledger, the ``max_delete`` refusal, a stop while it reads, and a resumed job's ids settled
from the journal. No worker runs: ``put`` only records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from bulkdel.core.stop import StopSignal
from bulkdel.engine.reader import Reader
from bulkdel.engine.workpool import WorkPool
from bulkdel.models import Abort, AbortReason, Chunk, Settings
from bulkdel.record.journal.journal import DELETED, FAILED, IN_FLIGHT, MISSING, JournaledOutcome
from bulkdel.record.ledger import Ledger

STOP = Abort(AbortReason.INTERRUPTED, "test")


def _id(n: int) -> str:
    return f"{n:024x}"


class Sink:
    """Every invalid and repeated item the ledger is told of."""

    def __init__(self) -> None:
        self.bad: list[tuple[str, int, str, str]] = []
        self.repeats: list[tuple[str, str, int]] = []

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        self.bad.append((source, line, value, reason))

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        self.repeats.append((file_id, source, line))

    def deleted(self, file_ids: Sequence[str]) -> None:
        pass

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        pass

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        pass

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        pass


class Journal:
    """A journal's face to the reader: ``resumed`` and ``lookup``."""

    def __init__(self, known: dict[str, JournaledOutcome | int], *, resumed: bool = True):
        self.known = known
        self.resumed = resumed
        self.asked: list[list[str]] = []

    async def lookup(self, ids: list[str]) -> dict[str, JournaledOutcome | int]:
        self.asked.append(list(ids))
        return {i: self.known[i] for i in ids if i in self.known}


class Run:
    """One reader with its ledger, pool and shared sets; ``put`` records each batch."""

    def __init__(self, journal: Journal | None = None, put_ok: bool = True, **settings: Any):
        self.settings = Settings(**{"linger": 3600.0, **settings})
        self.sink = Sink()
        self.ledger = Ledger([self.sink])
        self.pool = WorkPool(4)
        self.put: list[list[str]] = []
        self.put_ok = put_ok
        self.stops: list[Abort] = []
        self.open: set[str] = set()
        self.ambiguous: set[str] = set()
        self.signal = StopSignal()
        self.reader = Reader(
            self.settings,
            self.ledger,
            self.pool,
            self._put,
            open_ids=self.open,
            ambiguous=self.ambiguous,
            stop=self.stops.append,
            signal=self.signal,
            journal=journal,  # type: ignore[arg-type]
        )
        self.on_put: Callable[[], None] = lambda: None

    async def _put(self, batch: list[str]) -> bool:
        self.put.append(batch)
        self.on_put()
        return self.put_ok


async def _chunks(
    parts: Sequence[Sequence[str]],
    *,
    between: Callable[[int], Awaitable[None]] | None = None,
    read: list[int] | None = None,
) -> AsyncIterator[Chunk]:
    """One chunk a part, lines numbered across them; a value with a space breaks the id
    rule. ``between(n)`` runs once chunk ``n`` is consumed; ``read`` counts chunks taken."""
    line = 0
    for n, part in enumerate(parts):
        items = []
        for value in part:
            line += 1
            items.append((line, value, "has a space" if " " in value else None))
        if read is not None:
            read.append(n)
        yield Chunk("ids.txt", items)
        if between is not None:
            await between(n)


async def _forever() -> None:
    await asyncio.Event().wait()


# -- batches --------------------------------------------------------------------------------


async def test_batches_of_batch_size_go_to_put_in_input_order() -> None:
    values = [_id(n) for n in range(8)]
    run = Run(batch_size=3)
    await run.reader.run(_chunks([values[:5], values[5:]]))
    assert run.put == [values[:3], values[3:6], values[6:]]
    assert run.reader.input_done and run.pool.reader_done
    assert run.open == set(values)
    c = run.ledger.counts
    assert (c.read, c.unique, c.invalid, c.duplicate) == (8, 8, 0, 0)


async def test_a_full_batch_is_handed_on_before_the_next_chunk_is_read() -> None:
    values = [_id(n) for n in range(4)]
    run = Run(batch_size=2)
    put_by_then: list[int] = []

    async def look(n: int) -> None:
        put_by_then.append(len(run.put))

    await run.reader.run(_chunks([values[:3], values[3:]], between=look))
    assert put_by_then == [1, 2]


async def test_a_partial_batch_is_handed_on_when_the_source_goes_quiet() -> None:
    """The source says nothing more until the partial batch has been handed on: only the
    linger can hand it on."""
    values = [_id(n) for n in range(2)]
    run = Run(batch_size=3, linger=0.01)
    handed = asyncio.Event()
    run.on_put = handed.set

    async def quiet(n: int) -> None:
        await handed.wait()

    await run.reader.run(_chunks([values], between=quiet))
    assert run.put == [values]
    assert run.reader.input_done


# -- invalid and repeated ids ---------------------------------------------------------------


async def test_invalid_and_repeated_items_go_to_the_ledger_not_to_a_batch() -> None:
    a, b = _id(1), _id(2)
    run = Run(batch_size=100)
    await run.reader.run(_chunks([[a, "not an id", a], [b, "x y", b, a]]))
    assert run.put == [[a, b]]
    assert run.sink.bad == [
        ("ids.txt", 2, "not an id", "has a space"),
        ("ids.txt", 5, "x y", "has a space"),
    ]
    assert run.sink.repeats == [(a, "ids.txt", 3), (b, "ids.txt", 6), (a, "ids.txt", 7)]
    c = run.ledger.counts
    assert (c.read, c.unique, c.invalid, c.duplicate) == (7, 2, 2, 3)
    assert run.open == {a, b}


# -- max_delete -----------------------------------------------------------------------------


async def test_more_unique_ids_than_max_delete_refuses_the_job_sending_nothing() -> None:
    values = [_id(n) for n in range(9)]
    read: list[int] = []
    run = Run(batch_size=2, max_delete=5)
    await run.reader.run(_chunks([values[:3], values[3:6], values[6:]], read=read))
    assert run.put == []
    assert [s.reason for s in run.stops] == [AbortReason.REFUSED]
    assert "more than 5 unique ids" in run.stops[0].detail
    assert read == [0, 1]  # reading ends at the chunk that passed the limit
    assert not run.reader.input_done and run.pool.reader_done


async def test_under_max_delete_batches_wait_for_the_whole_input() -> None:
    """Repeats and invalid lines do not count towards the limit; nothing is handed on
    until the input is read whole (the limit could still refuse the job)."""
    values = [_id(n) for n in range(5)]
    run = Run(batch_size=2, max_delete=5, linger=0.01)
    put_by_then: list[int] = []

    async def look(n: int) -> None:
        put_by_then.append(len(run.put))
        if n == 0:  # a silence past the linger: a held batch still waits
            await asyncio.sleep(0.05)

    parts = [values[:3], [values[0], "bad id", *values[3:]], values[:2]]
    await run.reader.run(_chunks(parts, between=look))
    assert put_by_then == [0, 0, 0]
    assert run.put == [values[:2], values[2:4], values[4:]]
    assert run.stops == [] and run.reader.input_done


# -- stopping -------------------------------------------------------------------------------


async def test_a_stop_while_the_source_is_blocked_ends_the_reading_at_once() -> None:
    values = [_id(n) for n in range(5)]
    run = Run(batch_size=2)

    async def stop_then_block(n: int) -> None:
        run.signal.set(STOP)
        await _forever()  # an idle pipe: the stop must not wait for it

    await asyncio.wait_for(run.reader.run(_chunks([values], between=stop_then_block)), 30)
    assert run.put == [values[:2], values[2:4]]  # the partial batch is not handed on
    assert not run.reader.input_done and run.pool.reader_done


async def test_a_stop_set_as_the_input_ends_keeps_the_last_partial_batch() -> None:
    values = [_id(n) for n in range(3)]
    run = Run(batch_size=2)

    async def stop(n: int) -> None:
        run.signal.set(STOP)

    await run.reader.run(_chunks([values], between=stop))
    assert run.put == [values[:2]]
    assert not run.reader.input_done


async def test_a_put_refused_ends_the_reading() -> None:
    values = [_id(n) for n in range(6)]
    read: list[int] = []
    run = Run(batch_size=2, put_ok=False)
    await run.reader.run(_chunks([values[:2], values[2:4], values[4:]], read=read))
    assert run.put == [values[:2]]
    assert read == [0]
    assert not run.reader.input_done and run.pool.reader_done


async def test_a_stopping_pool_ends_the_reading_after_the_chunk_at_hand() -> None:
    values = [_id(n) for n in range(6)]
    read: list[int] = []
    run = Run(batch_size=2)
    run.on_put = run.pool.stop

    await run.reader.run(_chunks([values[:3], values[3:]], read=read))
    assert run.put == [values[:2]]
    assert read == [0]
    assert not run.reader.input_done


# -- a resumed job --------------------------------------------------------------------------


async def test_ids_the_journal_settled_are_accounted_and_not_sent_again() -> None:
    done, gone, gone_late, failed, in_flight, new = (_id(n) for n in range(6))
    journal = Journal(
        {
            done: JournaledOutcome(DELETED, None, None, 1, False),
            gone: JournaledOutcome(MISSING, None, 404, 1, False),
            gone_late: JournaledOutcome(MISSING, None, 404, 2, True),
            failed: JournaledOutcome(FAILED, "locked", 403, 3, False),
            in_flight: IN_FLIGHT,
        }
    )
    run = Run(journal, batch_size=100)
    await run.reader.run(_chunks([[done, gone, gone_late, failed, in_flight, new, done]]))
    assert run.put == [[in_flight, new]]
    assert run.ambiguous == {in_flight}
    assert run.open == {in_flight, new}
    assert (run.reader.resumed_final, run.reader.resumed_in_flight) == (4, 1)
    c = run.ledger.counts
    assert (c.read, c.unique, c.duplicate) == (7, 6, 1)
    assert (c.deleted, c.missing, c.missing_after_retry, c.failed) == (1, 2, 1, 1)
    assert journal.asked == [[done, gone, gone_late, failed, in_flight, new]]


async def test_a_fresh_jobs_journal_is_not_asked() -> None:
    journal = Journal({_id(1): JournaledOutcome(DELETED, None, None, 1, False)}, resumed=False)
    run = Run(journal, batch_size=100)
    await run.reader.run(_chunks([[_id(1), _id(2)]]))
    assert run.put == [[_id(1), _id(2)]]
    assert journal.asked == []
