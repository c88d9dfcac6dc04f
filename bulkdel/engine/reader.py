"""The pipeline's reader: validates, de-duplicates and batches the input for the work pool.

Every id it accepts becomes "open" (in the pipeline's open set) until the ledger has its
final bucket; a resumed run settles from the journal the ids an earlier run finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from ..core.stop import StopSignal
from ..dedupe import Deduper
from ..models import Abort, AbortReason, Chunk, Settings
from ..record.journal.journal import DELETED, MISSING, Journal, JournaledOutcome
from ..record.ledger import Ledger
from .ingest import Batches, Ingest
from .workpool import WorkPool


async def _with_idle(
    chunks: AsyncIterable[Chunk], linger: float, stop: StopSignal | None = None
) -> AsyncIterator[Chunk | None]:
    """The chunks, with None whenever the source has been silent for ``linger`` seconds;
    ends at once when ``stop`` is set (a source blocked on an idle pipe does not hold it)."""
    iterator = aiter(chunks)
    pending: asyncio.Future[Chunk] | None = None
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    idle_told = False
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
                idle_told = False
            waited: set[asyncio.Future[Any]] = {pending}
            if stopping is not None:
                waited.add(stopping)
            done, _ = await asyncio.wait(
                waited,
                timeout=None if idle_told else linger,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if stopping is not None and stopping in done and pending not in done:
                return
            if not done:
                idle_told = True
                yield None
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if stopping is not None:
            stopping.cancel()
        if pending is not None:
            if not pending.done():
                pending.cancel()
            with contextlib.suppress(BaseException):
                await pending  # also retrieves a StopAsyncIteration nobody else will
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()


class Reader:
    """Reads a run's chunks into batches for the pool.

    Args:
        settings: batch size, linger, dry run and the ``max_delete`` limit.
        ledger: where invalid lines, repeats and resumed outcomes go.
        pool: the work pool (closed for reading at the end; its ``stopping`` ends reading).
        put: hands a batch on (False once the run stops).
        open_ids: the pipeline's open set (shared): accepted ids are added.
        ambiguous: the pipeline's set of ids an attempt may have deleted (shared): ids an
            earlier run left in flight are added.
        stop: stops the run (when it is refused).
        signal: the run's stop signal: reading ends at once when it is set.
        journal: the run's journal, looked up when the run is resumed.
        spill_dir: where de-duplication spills ids when memory fills (a temporary
            directory if None).
        expected_ids: about how many ids the input holds, when its size tells.
    """

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        pool: WorkPool,
        put: Callable[[list[str]], Awaitable[bool]],
        *,
        open_ids: set[str],
        ambiguous: set[str],
        stop: Callable[[Abort], None],
        signal: StopSignal | None = None,
        journal: Journal | None = None,
        spill_dir: str | os.PathLike[str] | None = None,
        expected_ids: int | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.pool = pool
        self._put = put
        self.journal = journal
        self._open = open_ids
        self._ambiguous = ambiguous
        self._stop = stop
        self._signal = signal
        #: validation and de-duplication, shared with ``job submit`` (``ingest``)
        self.ingest = Ingest(Deduper(spill_dir, expected=expected_ids))
        #: the whole input was read
        self.input_done = False
        #: ids a resumed run found settled in the journal, and found left in flight
        self.resumed_final = 0
        self.resumed_in_flight = 0

    async def run(self, chunks: AsyncIterable[Chunk]) -> None:
        """Read everything; batches go to the pool (held back while ``max_delete`` may
        still refuse the run). Ends early when the pool stops."""
        try:
            # A new table's pages, faulted in between turns of the loop (a run's pass-through
            # de-duplication has none).
            for _ in getattr(self.ingest.dedupe, "warm", tuple)():
                await asyncio.sleep(0)
            if await self._batches(chunks):
                self.input_done = True
        finally:
            try:
                await self.ingest.aclose()  # a long run's files are freed in steps
            finally:
                await self.pool.close_reader()

    async def _batches(self, chunks: AsyncIterable[Chunk]) -> bool:
        settings = self.settings
        cut = Batches(settings.batch_size)
        held: list[list[str]] | None = [] if settings.max_delete is not None else None
        async for chunk in _with_idle(chunks, settings.linger, self._signal):
            if chunk is None:
                if len(cut) and held is None and not await self._put(cut.rest()):
                    return False
                continue
            for full, _ in cut.add(await self._accept(chunk)):
                if held is not None:
                    held.append(full)
                elif not await self._put(full):
                    return False
            if (held is not None and self._over_limit()) or self.pool.stopping:
                return False
        if self.pool.stopping or (self._signal is not None and self._signal.is_set):
            return False  # the stop ended the reading, not the input
        if batch := cut.rest():
            if held is not None:
                held.append(batch)
            elif not await self._put(batch):
                return False
        for full in held or ():
            if not await self._put(full):
                return False
        return True

    async def _accept(self, chunk: Chunk) -> list[str]:
        """Validate and de-duplicate a chunk (``Ingest``); returns the new ids that need
        sending."""
        ledger = self.ledger
        accepted = await self.ingest.accept(chunk)
        source = accepted.source
        for _, (line, value, problem) in accepted.invalid:
            ledger.invalid(source, line, value, problem or "")
        for _, (line, value, _) in accepted.duplicates:
            ledger.duplicate(value, source, line)
        fresh = accepted.fresh
        if self.journal is not None and self.journal.resumed and fresh:
            fresh = await self._resume_known(fresh)
        ledger.unique(len(fresh))
        self._open.update(fresh)
        return fresh

    async def _resume_known(self, fresh: list[str]) -> list[str]:
        """Settle from the journal the ids an earlier run finished; flag those it left in
        flight (a 404 for them means the earlier run deleted them)."""
        journal = self.journal
        assert journal is not None
        known = await journal.lookup(fresh)
        if not known:
            return fresh
        ledger = self.ledger
        send: list[str] = []
        deleted: list[str] = []
        for value in fresh:
            state = known.get(value)
            if state is None:
                send.append(value)
            elif isinstance(state, JournaledOutcome):
                ledger.unique()
                self.resumed_final += 1
                if state.state == DELETED:
                    deleted.append(value)
                elif state.state == MISSING:
                    ledger.missing((value,), (value,) if state.after_retry else ())
                else:
                    ledger.failed(value, state.error or "", state.status, state.attempts)
            else:
                self._ambiguous.add(value)
                self.resumed_in_flight += 1
                send.append(value)
        ledger.deleted(deleted)
        return send

    def _over_limit(self) -> bool:
        limit = self.settings.max_delete
        if limit is not None and len(self._open) > limit:
            self._stop(
                Abort(
                    AbortReason.REFUSED,
                    f"the input holds more than {limit:,} unique ids (max_delete); "
                    "nothing was sent",
                )
            )
            return True
        return False
