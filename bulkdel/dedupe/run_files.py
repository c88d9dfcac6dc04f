"""Sorted runs of keys on disk, merged by level as in an LSM tree: what the numpy runs
(``numpy_runs``) and the plain ones (``plain_runs``) share.

A run is one temporary file (unlinked at once, so nothing is left behind even after a
crash), written once in steps, read back with ``pread`` and freed in steps when let go.
The two differ in how a part of keys is packed and fenced, and in how runs are merged.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import IO, Final, Generic, TypeVar

#: bytes of a key (an ImageKit id's 24 hex characters)
KEY_SIZE: Final = 12
#: bytes of a run's file freed in one step when it is let go
FREE_STEP: Final = 16 << 20

#: a part of a run as it is written (keys in order; with numpy, their hashes too)
P = TypeVar("P")
#: the fences of one part
F = TypeVar("F")


class RunFile:
    """One sorted run on disk: ``count`` keys of ``KEY_SIZE`` bytes, of merge ``level``."""

    def __init__(self, handle: IO[bytes], count: int, level: int) -> None:
        self.handle, self.count, self.level = handle, count, level

    def read_bytes(self, start: int, stop: int) -> bytes:
        """Keys ``start`` to ``stop`` as written."""
        return os.pread(self.handle.fileno(), (stop - start) * KEY_SIZE, start * KEY_SIZE)


R = TypeVar("R", bound=RunFile)


class SortedRuns(ABC, Generic[P, F, R]):
    """Sorted runs on disk, merged ``fanout`` at a time (levels, as in an LSM tree)."""

    def __init__(self, directory: Path | None, block: int, fanout: int, step: int) -> None:
        self.directory, self.block, self.fanout, self.step = directory, block, fanout, step
        self.runs: list[R] = []

    @abstractmethod
    def _pack(self, part: P, count: int) -> tuple[bytes, F]:
        """``part``'s keys as written, and its fences (``count`` keys are before it)."""

    @abstractmethod
    def _run(self, handle: IO[bytes], count: int, fences: list[F], level: int) -> R:
        """The run written to ``handle``, with the fences of its parts."""

    @abstractmethod
    def _merged(self, group: list[R]) -> Iterator[P]:
        """The keys of ``group``, in order, a part at a time."""

    def _write(self, parts: Iterable[P], level: int) -> Generator[None, None, R]:
        # the run outlives this call: it is closed when merged away or in ``close``
        handle = tempfile.TemporaryFile(dir=self.directory, prefix="bulkdel-dedupe-")  # noqa: SIM115
        count, fences = 0, []
        try:
            for part in parts:
                data, fence = self._pack(part, count)
                fences.append(fence)
                handle.write(data)
                count += len(data) // KEY_SIZE
                yield
            handle.flush()
        except BaseException:  # the steps were abandoned (GeneratorExit) or failed
            handle.close()
            raise
        return self._run(handle, count, fences, level)

    @property
    def count(self) -> int:
        """Keys on disk."""
        return sum(run.count for run in self.runs)

    def add(self, parts: Iterable[P]) -> Generator[None, None, None]:
        """Spill keys as a new run (``parts`` of it, in order); merge runs while ``fanout``
        share the newest level.

        A step at a time (``step`` keys written or merged): the caller may let others work
        between them.
        """
        self.runs.append((yield from self._write(parts, 0)))
        fan = self.fanout
        while len(self.runs) >= fan and len({r.level for r in self.runs[-fan:]}) == 1:
            group = self.runs[-fan:]
            merged = yield from self._write(self._merged(group), group[0].level + 1)
            self.runs[-fan:] = [merged]
            yield from self.release(group)

    def release(self, runs: list[R]) -> Generator[None, None, None]:
        """Close ``runs``, their files' blocks freed ``FREE_STEP`` bytes a step (closing a
        run of 200 MB at once took 12 ms of CPU: the kernel frees its blocks then)."""
        try:
            for run in runs:
                size = run.count * KEY_SIZE
                while size > 0:
                    size = max(0, size - FREE_STEP)
                    os.ftruncate(run.handle.fileno(), size)
                    yield
                run.handle.close()
        finally:  # the steps were abandoned: the rest at once
            for run in runs:
                run.handle.close()

    def close(self) -> None:
        for run in self.runs:
            run.handle.close()
        self.runs = []
