"""Keys on disk for the plain de-duplication: sorted runs of 12-byte keys, merged by level.

A run is one temporary file of keys in byte order, written once; one in-memory fence (the
first key of each ``block``) finds the block a key would be in, read with ``pread`` and
searched in C (``bytes.find``). Merging sorts blocks of the runs' keys with ``sorted``, whose
merge of already sorted pieces runs in C (``heapq.merge`` costs a Python step a key). What
these share with the numpy runs is in ``run_files``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from typing import IO

from .run_files import KEY_SIZE, RunFile, SortedRuns


def split(data: bytes) -> list[bytes]:
    """Packed keys as a list of keys."""
    return [data[i : i + KEY_SIZE] for i in range(0, len(data), KEY_SIZE)]


class Run(RunFile):
    """One sorted run on disk, with the first key of every ``block`` keys in memory."""

    def __init__(self, handle: IO[bytes], count: int, fences: list[bytes], level: int) -> None:
        super().__init__(handle, count, level)
        self.fences = fences

    def blocks(self, step: int) -> Iterator[list[bytes]]:
        for start in range(0, self.count, step):
            yield split(self.read_bytes(start, min(self.count, start + step)))

    def contains(self, key: bytes, block: int) -> bool:
        i = bisect_right(self.fences, key) - 1
        if i < 0:
            return False
        data = self.read_bytes(i * block, min(self.count, (i + 1) * block))
        at = data.find(key)
        while at >= 0:
            if at % KEY_SIZE == 0:
                return True
            at = data.find(key, at + 1)
        return False


class Runs(SortedRuns[list[bytes], list[bytes], Run]):
    """Runs of keys in byte order, fenced by key."""

    def _pack(self, part: list[bytes], count: int) -> tuple[bytes, list[bytes]]:
        return b"".join(part), part[(-count) % self.block :: self.block]

    def _run(self, handle: IO[bytes], count: int, fences: list[list[bytes]], level: int) -> Run:
        return Run(handle, count, [fence for part in fences for fence in part], level)

    def _merged(self, group: list[Run]) -> Iterator[list[bytes]]:
        cursors = [_Cursor(run, self.step) for run in group]
        while cursors:
            # everything up to the smallest buffered maximum is in memory, in every run
            bound = min((c.keys[-1] for c in cursors if not c.last), default=None)
            taken: list[bytes] = []
            for cursor in cursors:
                taken += cursor.take(bound)
            taken.sort()
            yield taken
            cursors = [c for c in cursors if c.keys]

    def contains(self, key: bytes) -> bool:
        """Whether ``key`` is on disk (meant for the few a Bloom filter was unsure of)."""
        block = self.block
        return any(run.contains(key, block) for run in self.runs)

    def all_keys(self) -> Iterator[list[bytes]]:
        """Every key on disk, a block of keys at a time."""
        for run in self.runs:
            yield from run.blocks(self.step)


class _Cursor:
    """Reads one run in order, ``step`` keys at a time, for a merge."""

    def __init__(self, run: Run, step: int) -> None:
        self.run, self.step, self.pos = run, step, 0
        self.keys: list[bytes] = []
        self._load()

    def _load(self) -> None:
        stop = min(self.run.count, self.pos + self.step)
        self.keys = split(self.run.read_bytes(self.pos, stop))
        self.pos = stop

    @property
    def last(self) -> bool:
        """The buffer holds the run's tail."""
        return self.pos >= self.run.count

    def take(self, bound: bytes | None) -> list[bytes]:
        """The buffered keys up to ``bound`` (None: all of them)."""
        n = len(self.keys) if bound is None else bisect_right(self.keys, bound)
        taken, self.keys = self.keys[:n], self.keys[n:]
        if not self.keys and not self.last:
            self._load()
        return taken
