"""What the numpy and the plain de-duplications share: the one-caller rule, the heavy work
handed to the caller's loop in steps, and the runs on disk let go of in steps."""

from __future__ import annotations

import asyncio
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final

from .run_files import SortedRuns

Steps = Generator[None, None, None]
_HEX24: Final = re.compile(r"[0-9a-f]{24}")
#: bytes of a hex id's key
_KEY_BYTES: Final = 12


def packed_hex(values: Sequence[str]) -> bytes | None:
    """``values`` as 12-byte keys, packed, when every one is 24 lowercase hex characters (an
    ImageKit id); else None."""
    if not values:
        return None
    joined = "\n".join(values)
    try:
        raw = bytes.fromhex(joined)  # it skips the newlines (and any other whitespace)
    except ValueError:
        return None
    # The key per id is read back as its hex, a newline between two: equal only when every
    # value is 24 lowercase hex characters (fromhex also takes upper case and whitespace),
    # with no step per id.
    if len(raw) != _KEY_BYTES * len(values) or raw.hex("\n", _KEY_BYTES) != joined:
        return None
    return raw


async def pump(steps: Steps) -> None:
    """Take ``steps``, handing the loop back between two; closed however it ends (when
    cancelled, a half-written run's file is closed now)."""
    try:
        for _ in steps:
            await asyncio.sleep(0)
    finally:
        steps.close()


class SteppedDeduper(ABC):
    """Remembers every id seen; answers "new?" exactly, in bounded memory.

    One caller at a time: ``add_new_async`` must be awaited before the next call (after
    a cancelled one, only ``close`` or ``aclose``).

    Args:
        spill_dir: where runs of keys go when memory fills (a temporary directory if None);
            the files are unlinked at once, so nothing is left behind even after a crash.
        memtable: keys held in memory before a spill.
        block: keys between two in-memory fences of a run on disk.
        fanout: runs of one level merged into one of the next.
        bloom_capacity: keys the first Bloom filter is sized for at least (it grows).
        step: keys read, written or moved in one step of a merge, a rebuild, a spill or
            the table's growth.
    """

    #: the defaults of ``memtable``, ``block`` and ``bloom_capacity``: each its own
    MEMTABLE: ClassVar[int]
    BLOCK: ClassVar[int]
    BLOOM_CAPACITY: ClassVar[int]
    #: its runs on disk
    RUNS: ClassVar[type[SortedRuns[Any, Any, Any]]]

    def __init__(
        self,
        spill_dir: str | os.PathLike[str] | None = None,
        *,
        memtable: int | None = None,
        block: int | None = None,
        fanout: int = 4,
        bloom_capacity: int | None = None,
        step: int = 1 << 13,
    ) -> None:
        directory = None if spill_dir is None else Path(spill_dir)
        block = self.BLOCK if block is None else block
        self._runs = self.RUNS(directory, block, fanout, step)
        self._max_table = max(2, self.MEMTABLE if memtable is None else memtable)
        self._step = step
        self._bloom_floor = self.BLOOM_CAPACITY if bloom_capacity is None else bloom_capacity
        #: ids that are not hex keys (they are rare, and cost what a str costs)
        self._other: set[str] = set()
        #: steps of growth or a spill were left unfinished (their caller was cancelled)
        self._broken = False

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _add(self, values: Sequence[str]) -> list[bool]:
        """``add_new`` once it may answer: the heavy work done at once."""

    @abstractmethod
    def _add_packed(self, raw: bytes) -> list[bool]:
        """``_add_values`` for hex ids packed as 12-byte keys (at least one)."""

    def _add_values(self, values: Sequence[str]) -> list[bool]:
        """Hex ids as keys, the others in a set; True for each one not seen before."""
        raw = packed_hex(values)
        if raw is not None:
            return self._add_packed(raw)
        flags = [False] * len(values)
        hexes: list[str] = []
        where: list[int] = []
        other = self._other
        for i, value in enumerate(values):
            if _HEX24.fullmatch(value):
                hexes.append(value)
                where.append(i)
            elif value not in other:
                other.add(value)
                flags[i] = True
        if hexes:
            fresh = self._add_packed(bytes.fromhex("".join(hexes)))
            for i, flag in zip(where, fresh, strict=True):
                flags[i] = flag
        return flags

    @abstractmethod
    def _room(self, count: int) -> Steps:
        """Room in memory for ``count`` more keys, in steps (none when there is room)."""

    @property
    def spilled_runs(self) -> int:
        """Runs on disk now (for tests and benchmarks)."""
        return len(self._runs.runs)

    def _refuse_if_broken(self) -> None:
        if self._broken:
            msg = "a cancelled add_new_async left the de-duplication unfinished; close it"
            raise RuntimeError(msg)

    def is_new(self, value: str) -> bool:
        """Record ``value``; True when it was not seen before."""
        return self.add_new([value])[0]

    def add_new(self, values: Sequence[str]) -> list[bool]:
        """Record ``values`` in order; True for each one not seen before (nor earlier in
        ``values``)."""
        self._refuse_if_broken()
        return self._add(values)

    async def add_new_async(self, values: Sequence[str]) -> list[bool]:
        """``add_new``, handing the caller's loop back between the steps of the heavy work
        (growth, a spill, a merge, a Bloom filter rebuild)."""
        self._refuse_if_broken()  # its steps would build on the unfinished ones
        half = self._max_table // 2
        flags: list[bool] = []
        for start in range(0, len(values), half):
            part = values[start : start + half]
            self._broken = True  # until the last step is done
            await pump(self._room(len(part)))
            self._broken = False
            flags += self.add_new(part)
        return flags

    def close(self) -> None:
        """Let go of the runs on disk (idempotent; their files are already unlinked)."""
        self._runs.close()

    async def aclose(self) -> None:
        """``close``, handing the loop back while the files' blocks are freed (at 100M ids,
        1.2 GB: about 70 ms of CPU at once)."""
        runs, self._runs.runs = self._runs.runs, []
        await pump(self._runs.release(runs))
