"""The progress line drawn on stderr while a job runs on a terminal.

The line is fitted to the terminal's width, read again at each redraw (a resized window):
a line as wide as the terminal or wider wraps, and each ``\r`` redraw then leaves the
wrapped rows behind. Figures come in order of importance (done/total, failed, deleted,
missing, then rate, ETA and pace), whole figures only, and the less important ones are left
out first; the line never takes more than width - 1 columns.

While ids are typed on the terminal (stdin is a terminal and one of the inputs), nothing is
drawn: a redraw would overwrite the line being typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from ..engine.deleter import BulkDeleter
from ..engine.sources import FileReader

_REFRESH = 0.5
_SEPARATOR = " | "
#: columns assumed when the stream is not a terminal (a test's StringIO)
_DEFAULT_COLUMNS = 80


class ProgressDisplay:
    """Redraws one status line: done/total when known, failures, deleted, missing, rate,
    ETA, throttle wait or pace, as many as the terminal's width holds.

    Args:
        deleter: the job to follow.
        readers: its inputs (their bytes read give the estimated total; stdin on a terminal
            holds the drawing back until it is read).
        stream: where to draw (stderr).
        columns: the terminal's width now (default: the stream's terminal, read each time).
    """

    def __init__(
        self,
        deleter: BulkDeleter,
        readers: Sequence[FileReader] = (),
        stream: TextIO | None = None,
        columns: Callable[[], int] | None = None,
    ) -> None:
        self._deleter = deleter
        self._readers = list(readers)
        self._stream = stream or sys.stderr
        self._columns = columns or self._terminal_columns
        self._task: asyncio.Task[None] | None = None
        self._started = time.monotonic()
        self._drawn = False

    def start(self) -> None:
        """Begin redrawing."""
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop and clear the line (not while ids are typed: their line is not erased)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._drawn or not self._typing():
            self._stream.write("\r\033[K")
            self._stream.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(_REFRESH)
            if self._typing():
                continue
            self._stream.write("\r\033[K" + self.line(self._columns()))
            self._stream.flush()
            self._drawn = True

    def _typing(self) -> bool:
        """Ids are being typed on the terminal: stdin is a terminal, an input, not yet read."""
        reads_stdin = any(r.name == "<stdin>" for r in self._readers)
        return reads_stdin and not self._input_done() and _is_terminal(sys.stdin)

    def _terminal_columns(self) -> int:
        """The width of the terminal the stream draws on, read now (the window may have
        been resized); ``shutil``'s guess ($COLUMNS, stdout) when the stream is none."""
        try:
            return os.get_terminal_size(self._stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size((_DEFAULT_COLUMNS, 24)).columns

    def line(self, width: int | None = None) -> str:
        """The current status line, in at most ``width - 1`` characters when given."""
        return _fit(self.parts(), width)

    def parts(self) -> list[str]:
        """The line's figures, the most important first."""
        c = self._deleter.counts
        done = c.deleted + c.missing + c.failed
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        total = self._total(c.unique)
        if total is None:
            parts = [f"{done:,} done"]
        else:
            parts = [f"{done:,}/{'' if self._input_done() else '~'}{total:,} done"]
        if c.failed:
            parts.append(f"{c.failed:,} failed")
        parts += [f"{c.deleted:,} deleted", f"{c.missing:,} missing", f"{rate:,.0f} ids/s"]
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
        return parts

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


def _fit(parts: list[str], width: int | None) -> str:
    """``parts`` joined, as many (from the first) as fit in ``width - 1`` columns; the first
    alone is cut when even it does not fit."""
    if width is None:
        return _SEPARATOR.join(parts)
    room = max(width - 1, 0)
    line = parts[0][:room]
    for part in parts[1:]:
        longer = line + _SEPARATOR + part
        if len(longer) > room:
            break
        line = longer
    return line


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
