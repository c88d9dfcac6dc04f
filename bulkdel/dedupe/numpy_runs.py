"""Keys on disk: sorted runs of 12-byte keys, merged by level as in an LSM tree.

The numpy de-duplication's (``numpy_deduper``): a run is written once in hash order, found
through one in-memory fence (a hash) every ``block`` keys, and read back with ``pread``
(never mapped, so a run's pages are the page cache's, not the process's resident memory).
What the plain runs share with these is in ``run_files``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Final

import numpy as np

from .run_files import RunFile, SortedRuns

if TYPE_CHECKING:  # numpy.typing costs ~40 ms of start-up; annotations only need it here
    import numpy.typing as npt

    U64 = npt.NDArray[np.uint64]
    Bools = npt.NDArray[np.bool_]

#: a key on disk: the id's first 8 bytes and last 4, native order, 12 bytes packed
KEY: Final = np.dtype([("hi", "<u8"), ("lo", "<u4")])
MIX1, MIX2, MIX3 = (
    np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x94D049BB133111EB)
)


def mix(hi: U64, lo: U64) -> U64:
    """A well-spread 64-bit hash of the keys (ids are ObjectIds: their first bytes are a
    timestamp, so raw bits would crowd into a few buckets)."""
    h = (hi * MIX1) ^ ((lo + np.uint64(1)) * MIX2)
    h ^= h >> np.uint64(31)
    h *= MIX3
    h ^= h >> np.uint64(29)
    return h


def split_keys(keys: npt.NDArray[np.void]) -> tuple[U64, U64]:
    """The keys' two parts as uint64 arrays."""
    return keys["hi"].astype(np.uint64), keys["lo"].astype(np.uint64)


class Run(RunFile):
    """One sorted run on disk: keys in hash order, a fence every ``block`` keys."""

    def __init__(self, handle: IO[bytes], count: int, fences: U64, level: int) -> None:
        super().__init__(handle, count, level)
        self.fences = fences

    def read(self, start: int, stop: int) -> npt.NDArray[np.void]:
        return np.frombuffer(self.read_bytes(start, stop), KEY)

    def blocks(self, step: int) -> Iterator[npt.NDArray[np.void]]:
        for start in range(0, self.count, step):
            yield self.read(start, min(self.count, start + step))


class _Cursor:
    """Reads one run in order, ``step`` keys at a time, for a merge."""

    def __init__(self, run: Run, step: int) -> None:
        self.run, self.step, self.pos = run, step, 0
        self._load()

    def _load(self) -> None:
        stop = min(self.run.count, self.pos + self.step)
        self.keys = self.run.read(self.pos, stop)
        self.h = mix(*split_keys(self.keys))
        self.pos = stop

    @property
    def last(self) -> bool:
        """The buffer holds the run's tail."""
        return self.pos >= self.run.count

    def take(self, bound: np.uint64 | None) -> tuple[npt.NDArray[np.void], U64]:
        """The buffered keys with a hash up to ``bound`` (None: all of them)."""
        n = len(self.h) if bound is None else int(np.searchsorted(self.h, bound, "right"))
        keys, h = self.keys[:n], self.h[:n]
        self.keys, self.h = self.keys[n:], self.h[n:]
        if not len(self.h) and not self.last:
            self._load()
        return keys, h


#: a part of a run: keys in hash order, and their hashes
Part = tuple["npt.NDArray[np.void]", "U64"]


class Runs(SortedRuns[Part, "U64", Run]):
    """Runs of keys in hash order, fenced by hash."""

    def _pack(self, part: Part, count: int) -> tuple[bytes, U64]:
        keys, h = part
        return keys.tobytes(), h[(-count) % self.block :: self.block].copy()  # not a view of h

    def _run(self, handle: IO[bytes], count: int, fences: list[U64], level: int) -> Run:
        return Run(handle, count, np.concatenate(fences), level)

    def _merged(self, group: list[Run]) -> Iterator[Part]:
        cursors = [_Cursor(run, self.step) for run in group]
        while cursors:
            # everything up to the smallest buffered maximum is in memory, in every run
            bound = min((c.h[-1] for c in cursors if not c.last), default=None)
            taken = [c.take(bound) for c in cursors]
            h = np.concatenate([t[1] for t in taken])
            order = np.argsort(h, kind="stable")
            yield np.concatenate([t[0] for t in taken])[order], h[order]
            cursors = [c for c in cursors if len(c.h)]

    def contains(self, h: U64, hi: U64, lo: U64) -> Bools:
        """Which keys are on disk (meant for the few a Bloom filter was unsure of)."""
        found = np.zeros(len(h), np.bool_)
        block = self.block
        for run in self.runs:
            # keys of one hash may straddle fences: read every block that can hold it
            first = np.searchsorted(run.fences, h, "left") - 1
            last = np.searchsorted(run.fences, h, "right") - 1
            read: dict[tuple[int, int], npt.NDArray[np.void]] = {}
            for i in np.flatnonzero((last >= 0) & ~found).tolist():
                span = (max(int(first[i]), 0) * block, min((int(last[i]) + 1) * block, run.count))
                keys = read.get(span)
                if keys is None:
                    keys = read[span] = run.read(*span)
                found[i] = bool(np.any((keys["hi"] == hi[i]) & (keys["lo"] == lo[i])))
        return found

    def hashes(self) -> Iterator[U64]:
        """The hash of every key on disk, a block of keys at a time."""
        for run in self.runs:
            for keys in run.blocks(self.step):
                yield mix(*split_keys(keys))
