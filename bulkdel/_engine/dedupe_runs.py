"""Keys on disk: sorted runs of 12-byte keys, merged by level as in an LSM tree.

The exact part of ``dedupe``: a run is written once in hash order, found through one
in-memory fence every ``block`` keys, and read back with ``pread`` (never mapped, so a
run's pages are the page cache's, not the process's resident memory).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:  # numpy.typing costs ~40 ms of start-up; annotations only need it here
    import numpy.typing as npt

    U64 = npt.NDArray[np.uint64]
    Bools = npt.NDArray[np.bool_]

#: a key on disk: the id's first 8 bytes and last 4, native order, 12 bytes packed
KEY: Final = np.dtype([("hi", "<u8"), ("lo", "<u4")])
#: bytes of a run's file freed in one step when it is let go
FREE_STEP: Final = 16 << 20
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


class Run:
    """One sorted run on disk: keys in hash order, a fence every ``block`` keys."""

    def __init__(self, handle: IO[bytes], count: int, fences: U64, level: int) -> None:
        self.handle = handle
        self.count = count
        self.fences = fences
        self.level = level

    def read(self, start: int, stop: int) -> npt.NDArray[np.void]:
        size = KEY.itemsize
        data = os.pread(self.handle.fileno(), (stop - start) * size, start * size)
        return np.frombuffer(data, KEY)

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


class Runs:
    """Sorted runs on disk, merged ``fanout`` at a time (levels, as in an LSM tree)."""

    def __init__(self, directory: Path | None, block: int, fanout: int, step: int) -> None:
        self.directory, self.block, self.fanout, self.step = directory, block, fanout, step
        self.runs: list[Run] = []

    def _write(
        self, parts: Iterator[tuple[npt.NDArray[np.void], U64]], level: int
    ) -> Generator[None, None, Run]:
        # the run outlives this call: it is closed when merged away or in ``close``
        handle = tempfile.TemporaryFile(dir=self.directory, prefix="bulkdel-dedupe-")  # noqa: SIM115
        count, fences = 0, []
        try:
            for keys, h in parts:
                fences.append(h[(-count) % self.block :: self.block].copy())  # not a view of h
                handle.write(keys.tobytes())
                count += len(keys)
                yield
            handle.flush()
        except BaseException:  # the steps were abandoned (GeneratorExit) or failed
            handle.close()
            raise
        return Run(handle, count, np.concatenate(fences), level)

    @property
    def count(self) -> int:
        """Keys on disk."""
        return sum(run.count for run in self.runs)

    def add(self, parts: list[tuple[npt.NDArray[np.void], U64]]) -> Generator[None, None, None]:
        """Spill keys as a new run (``parts`` of keys and their hashes, in hash order); merge
        runs while ``fanout`` share the newest level.

        A step at a time (``step`` keys written or merged): the caller may let others work
        between them.
        """
        self.runs.append((yield from self._write(iter(parts), 0)))
        fan = self.fanout
        while len(self.runs) >= fan and len({r.level for r in self.runs[-fan:]}) == 1:
            group = self.runs[-fan:]
            merged = yield from self._write(self._merged(group), group[0].level + 1)
            self.runs[-fan:] = [merged]
            yield from self.release(group)

    def _merged(self, group: list[Run]) -> Iterator[tuple[npt.NDArray[np.void], U64]]:
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

    def release(self, runs: list[Run]) -> Generator[None, None, None]:
        """Close ``runs``, their files' blocks freed ``FREE_STEP`` bytes a step (closing a
        run of 200 MB at once took 12 ms of CPU: the kernel frees its blocks then)."""
        try:
            for run in runs:
                size = run.count * KEY.itemsize
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
