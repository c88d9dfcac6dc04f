"""The progress line drawn on stderr while a job runs on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from .._engine.sources import FileReader
from ..deleter import BulkDeleter

_REFRESH = 0.5


class ProgressDisplay:
    """Redraws one status line: done/total when known, rate, ETA, throttle wait, failures."""

    def __init__(
        self,
        deleter: BulkDeleter,
        readers: Sequence[FileReader] = (),
        stream: TextIO | None = None,
    ) -> None:
        self._deleter = deleter
        self._readers = list(readers)
        self._stream = stream or sys.stderr
        self._task: asyncio.Task[None] | None = None
        self._started = time.monotonic()

    def start(self) -> None:
        """Begin redrawing."""
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop and clear the line."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._stream.write("\r\033[K")
        self._stream.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(_REFRESH)
            self._stream.write("\r\033[K" + self.line())
            self._stream.flush()

    def line(self) -> str:
        """The current status line."""
        c = self._deleter.counts
        done = c.deleted + c.missing + c.failed
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        total = self._total(c.unique)
        if total is None:
            parts = [f"{done:,} done"]
        else:
            parts = [f"{done:,}/{'' if self._input_done() else '~'}{total:,} done"]
        parts.append(f"{c.deleted:,} deleted, {c.missing:,} missing")
        parts.append(f"{rate:,.0f} ids/s")
        if total is not None and rate > 0 and total > done:
            parts.append(f"ETA {(total - done) / rate:,.0f}s")
        pipeline = self._deleter.pipeline
        if pipeline is not None:
            wait = pipeline.budget.gate_wait()
            # the account's pace, under this job's cap
            paces = [r for r in (pipeline.budget.rate, pipeline.settings.rate) if r is not None]
            pace = min(paces) if paces else None
            if wait > 0:
                parts.append(f"throttled: waiting {wait:.1f}s")
            elif pace is not None:
                parts.append(f"pace {pace:,.1f} req/s")
        if c.failed:
            parts.append(f"{c.failed:,} failed")
        return " | ".join(parts)

    def _input_done(self) -> bool:
        pipeline = self._deleter.pipeline
        return pipeline is not None and pipeline.input_done

    def _total(self, unique: int) -> int | None:
        """Ids to settle: exact once the input is read, else estimated from bytes read."""
        if self._input_done():
            return unique
        fraction = self._fraction()
        if fraction is None or fraction <= 0 or unique == 0:
            return None
        return round(unique / fraction)

    def _fraction(self) -> float | None:
        sizes = [r.size for r in self._readers]
        if not sizes or any(s is None for s in sizes):
            return None
        total = sum(s for s in sizes if s is not None)
        if total == 0:
            return None
        return min(1.0, sum(r.bytes_read for r in self._readers) / total)
