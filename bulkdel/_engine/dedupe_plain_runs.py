"""Keys on disk for the plain de-duplication: sorted runs of 12-byte keys, merged by level.

A run is one temporary file of keys in byte order, written once; one in-memory fence (the
first key of each ``block``) finds the block a key would be in, read with ``pread`` and
searched in C (``bytes.find``). Merging sorts blocks of the runs' keys with ``sorted``, whose
merge of already sorted pieces runs in C (``heapq.merge`` costs a Python step a key).
"""

from __future__ import annotations

import os
import tempfile
from bisect import bisect_right
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import IO, Final

#: bytes of a key (an ImageKit id's 24 hex characters)
KEY_SIZE: Final = 12
#: bytes of a run's file freed in one step when it is let go
FREE_STEP: Final = 16 << 20


def split(data: bytes) -> list[bytes]:
    """Packed keys as a list of keys."""
    return [data[i : i + KEY_SIZE] for i in range(0, len(data), KEY_SIZE)]


class Run:
    """One sorted run on disk, with the first key of every ``block`` keys in memory."""

    def __init__(self, handle: IO[bytes], count: int, fences: list[bytes], level: int) -> None:
        self.handle, self.count, self.fences, self.level = handle, count, fences, level

    def read(self, start: int, stop: int) -> bytes:
        return os.pread(self.handle.fileno(), (stop - start) * KEY_SIZE, start * KEY_SIZE)

    def blocks(self, step: int) -> Iterator[list[bytes]]:
        for start in range(0, self.count, step):
            yield split(self.read(start, min(self.count, start + step)))

    def contains(self, key: bytes, block: int) -> bool:
        i = bisect_right(self.fences, key) - 1
        if i < 0:
            return False
        data = self.read(i * block, min(self.count, (i + 1) * block))
        at = data.find(key)
        while at >= 0:
            if at % KEY_SIZE == 0:
                return True
            at = data.find(key, at + 1)
        return False


class Runs:
    """Sorted runs on disk, merged ``fanout`` at a time (levels, as in an LSM tree)."""

    def __init__(self, directory: Path | None, block: int, fanout: int, step: int) -> None:
        self.directory, self.block, self.fanout, self.step = directory, block, fanout, step
        self.runs: list[Run] = []

    def _write(self, parts: Iterable[list[bytes]], level: int) -> Generator[None, None, Run]:
        # the run outlives this call: it is closed when merged away or in ``close``
        handle = tempfile.TemporaryFile(dir=self.directory, prefix="bulkdel-dedupe-")  # noqa: SIM115
        count, fences = 0, []
        try:
            for keys in parts:
                fences += keys[(-count) % self.block :: self.block]
                handle.write(b"".join(keys))
                count += len(keys)
                yield
            handle.flush()
        except BaseException:  # the steps were abandoned (GeneratorExit) or failed
            handle.close()
            raise
        return Run(handle, count, fences, level)

    def add(self, keys: list[bytes]) -> Generator[None, None, None]:
        """Spill sorted ``keys`` as a new run; merge runs while ``fanout`` share the newest
        level. A step at a time (``step`` keys written or merged)."""
        step = self.step
        parts = (keys[i : i + step] for i in range(0, len(keys), step))
        self.runs.append((yield from self._write(parts, 0)))
        fan = self.fanout
        while len(self.runs) >= fan and len({r.level for r in self.runs[-fan:]}) == 1:
            group = self.runs[-fan:]
            merged = yield from self._write(self._merged(group), group[0].level + 1)
            self.runs[-fan:] = [merged]
            yield from self.release(group)

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

    def release(self, runs: list[Run]) -> Generator[None, None, None]:
        """Close ``runs``, their files' blocks freed ``FREE_STEP`` bytes a step."""
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


class _Cursor:
    """Reads one run in order, ``step`` keys at a time, for a merge."""

    def __init__(self, run: Run, step: int) -> None:
        self.run, self.step, self.pos = run, step, 0
        self.keys: list[bytes] = []
        self._load()

    def _load(self) -> None:
        stop = min(self.run.count, self.pos + self.step)
        self.keys = split(self.run.read(self.pos, stop))
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
