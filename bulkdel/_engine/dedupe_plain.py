"""Exact de-duplication in bounded memory with the standard library alone (no numpy).

The plain install's ``Deduper`` (``dedupe`` picks it when numpy cannot be imported); it gives
the answers of the numpy one (``dedupe_numpy``) and of a ``set``, in no more memory (a dry
run's peak RSS: 61 MiB at 1M ids, 96 at 10M, against numpy's 88 and 120), but slower as the
input grows: 0.6 of numpy's ids/s at 1M, 0.26 at 10M (``benchmarks/DEDUPE_PLAIN_RESULTS.md``),
most of it the Python loop a key of the Bloom filter's adds, rebuilds and tests. The same
shape:

* ImageKit ids (24 lowercase hex characters) become 12-byte ``bytes`` keys; other ids go
  into a plain ``set`` (they are rare, and cost what a str costs);
* the newest keys sit in a ``set`` (``memtable`` of them: about 100 bytes a key, the price of
  a Python object), which spills as a sorted run of keys to a temporary file beside the
  report or journal (unlinked at once);
* runs are merged ``fanout`` at a time by level (``dedupe_plain_runs``), so there are few;
  each is found through one in-memory fence every ``block`` keys and read with ``pread``;
* a blocked Bloom filter of the keys on disk (``BLOOM_BITS`` a key, in an ``array``; rebuilt
  twice as large from the runs when it fills) answers "certainly not on disk" for nearly
  every new id, so only a repeat or a false positive costs a read.

Heavy steps (a spill, a merge, a rebuild) go ``step`` keys at a time, and ``add_new_async``
hands the loop back between them, as the numpy one does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from array import array
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Final

from .dedupe_plain_runs import KEY_SIZE, Runs

log = logging.getLogger("bulkdel.dedupe")

_HEX24: Final = re.compile(r"[0-9a-f]{24}")
#: Bloom filter: bits a key; each key sets six bits of one 64-bit word
BLOOM_BITS: Final = 16
_M64: Final = (1 << 64) - 1
#: a mask of two bits of a word for each 12 bits of a hash: three lookups give six bits
_MASKS: Final = tuple((1 << (i & 63)) | (1 << (i >> 6)) for i in range(1 << 12))
#: ids past which a plain install says once that the numpy extra is faster
HINT_AT: Final = 5_000_000
HINT: Final = (
    "bulkdel: de-duplicating over 5 million ids without numpy, at about a third of its "
    "speed; pip install 'bulkdel[large]' for numpy's"
)


class Bloom:
    """A blocked Bloom filter over ``hash(key)``: a key's six bits are in one 64-bit word."""

    def __init__(self, capacity: int) -> None:
        words = 1 << max(6, (capacity * BLOOM_BITS // 64 - 1).bit_length())
        self.capacity = words * 64 // BLOOM_BITS
        self.shift = 64 - (words.bit_length() - 1)
        self.words = array("Q", bytes(8 * words))

    def add_all(self, keys: Sequence[bytes]) -> None:
        words, shift, masks = self.words, self.shift, _MASKS
        for key in keys:
            h = hash(key) & _M64
            words[h >> shift] |= (
                masks[h & 0xFFF] | masks[(h >> 12) & 0xFFF] | masks[(h >> 24) & 0xFFF]
            )


class Deduper:
    """Remembers every id seen; answers "new?" exactly, in bounded memory, without numpy.

    The arguments and the one-caller-at-a-time rule are those of ``dedupe_numpy.Deduper``.
    """

    def __init__(
        self,
        spill_dir: str | os.PathLike[str] | None = None,
        *,
        memtable: int = 1 << 17,
        block: int = 256,
        fanout: int = 4,
        bloom_capacity: int = 1 << 20,
        step: int = 1 << 13,
    ) -> None:
        self._other: set[str] = set()
        self._mem: set[bytes] = set()
        self._max_table = max(2, memtable)
        self._on_disk = 0
        self._bloom_floor = bloom_capacity
        self._bloom = Bloom(0)  # sized at the first spill: a short input never needs one
        directory = None if spill_dir is None else Path(spill_dir)
        self._runs = Runs(directory, block, fanout, step)
        self._step = step
        self._hinted = False
        #: steps of a spill were left unfinished (their caller was cancelled)
        self._broken = False

    def __len__(self) -> int:
        return self._on_disk + len(self._mem) + len(self._other)

    @property
    def spilled_runs(self) -> int:
        """Runs on disk now (for tests and benchmarks)."""
        return len(self._runs.runs)

    def is_new(self, value: str) -> bool:
        """Record ``value``; True when it was not seen before."""
        return self.add_new([value])[0]

    def add_new(self, values: Sequence[str]) -> list[bool]:
        """Record ``values`` in order; True for each one not seen before (nor earlier in
        ``values``)."""
        if self._broken:
            msg = "a cancelled add_new_async left the de-duplication unfinished; close it"
            raise RuntimeError(msg)
        half = self._max_table // 2
        flags: list[bool] = []
        for start in range(0, len(values), half):
            part = values[start : start + half]
            for _ in self._room(len(part)):
                pass
            flags += self._add_part(part)
        if not self._hinted and len(self) > HINT_AT:
            self._hinted = True
            log.warning(HINT)
        return flags

    async def add_new_async(self, values: Sequence[str]) -> list[bool]:
        """``add_new``, handing the caller's loop back between the steps of a spill, a merge
        and a Bloom filter rebuild."""
        half = self._max_table // 2
        flags: list[bool] = []
        for start in range(0, len(values), half):
            part = values[start : start + half]
            steps = self._room(len(part))
            self._broken = True  # until the last step is done
            try:
                for _ in steps:
                    await asyncio.sleep(0)
            finally:
                steps.close()  # cancelled: a half-written run's file is closed now
            self._broken = False
            flags += self.add_new(part)
        return flags

    def _room(self, count: int) -> Generator[None, None, None]:
        """Room in the memtable for ``count`` more keys: a spill when it would overflow."""
        if len(self._mem) + count > self._max_table and self._mem:
            yield from self._spill()

    def _add_part(self, values: Sequence[str]) -> list[bool]:
        joined = "".join(values)
        if values and set(map(len, values)) == {24}:
            try:
                raw = bytes.fromhex(joined)
            except ValueError:
                pass
            else:
                # fromhex also takes upper case and spaces: those ids are not hex keys
                if raw.hex() == joined:
                    return self._add_keys(
                        [raw[i : i + KEY_SIZE] for i in range(0, len(raw), KEY_SIZE)]
                    )
        return self._add_mixed(values)

    def _add_mixed(self, values: Sequence[str]) -> list[bool]:
        flags = [False] * len(values)
        keys: list[bytes] = []
        where: list[int] = []
        other = self._other
        for i, value in enumerate(values):
            if _HEX24.fullmatch(value):
                keys.append(bytes.fromhex(value))
                where.append(i)
            elif value not in other:
                other.add(value)
                flags[i] = True
        for i, flag in zip(where, self._add_keys(keys), strict=True):
            flags[i] = flag
        return flags

    def _add_keys(self, keys: list[bytes]) -> list[bool]:
        mem = self._mem
        flags = [False] * len(keys)
        if not self._runs.runs:
            for i, key in enumerate(keys):
                if key not in mem:
                    mem.add(key)
                    flags[i] = True
            return flags
        # the Bloom filter's test inline: a method call a key cost a third of the time
        words, shift, masks = self._bloom.words, self._bloom.shift, _MASKS
        contains = self._runs.contains
        for i, key in enumerate(keys):
            if key in mem:
                continue
            h = hash(key) & _M64
            mask = masks[h & 0xFFF] | masks[(h >> 12) & 0xFFF] | masks[(h >> 24) & 0xFFF]
            if words[h >> shift] & mask != mask or not contains(key):
                mem.add(key)
                flags[i] = True
        return flags

    def _spill(self) -> Generator[None, None, None]:
        """The memtable goes to disk as a sorted run; the Bloom filter takes its keys."""
        keys = sorted(self._mem)
        self._mem = set()
        yield
        yield from self._runs.add(keys)
        self._on_disk += len(keys)
        if self._on_disk > self._bloom.capacity:
            yield from self._rebuild_bloom()
            return
        for start in range(0, len(keys), self._step):
            self._bloom.add_all(keys[start : start + self._step])
            yield

    def _rebuild_bloom(self) -> Generator[None, None, None]:
        """A filter twice as large, from every key on disk (the old one is freed first)."""
        self._bloom = Bloom(0)
        bloom = Bloom(max(self._on_disk + 1, self._bloom_floor))
        for keys in self._runs.all_keys():
            bloom.add_all(keys)
            yield
        self._bloom = bloom

    def close(self) -> None:
        """Let go of the runs on disk (idempotent; their files are already unlinked)."""
        self._runs.close()

    async def aclose(self) -> None:
        """``close``, handing the loop back while the files' blocks are freed."""
        runs, self._runs.runs = self._runs.runs, []
        steps = self._runs.release(runs)
        try:
            for _ in steps:
                await asyncio.sleep(0)
        finally:
            steps.close()
