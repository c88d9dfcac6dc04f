"""Exact de-duplication in bounded memory with the standard library alone (no numpy).

The plain install's de-duplication, and every install's while the input is short (``Deduper``
moves to numpy's when it would first spill, where numpy is installed); it gives the answers
of the numpy one (``numpy_deduper``) and of a ``set``, in no more memory, but slower as the
input grows (``benchmarks/DEDUPE_PLAIN_RESULTS.md``), most of it the Python loop a key of
the Bloom filter's adds, rebuilds and tests. The same
shape:

* ImageKit ids (24 lowercase hex characters) become 12-byte ``bytes`` keys; other ids go
  into a plain ``set`` (they are rare, and cost what a str costs);
* the newest keys sit in a ``set`` (``memtable`` of them: about 100 bytes a key, the price of
  a Python object), which spills as a sorted run of keys to a temporary file beside the
  report or journal (unlinked at once);
* runs are merged ``fanout`` at a time by level (``plain_runs``), so there are few;
  each is found through one in-memory fence every ``block`` keys and read with ``pread``;
* a blocked Bloom filter of the keys on disk (``BLOOM_BITS`` a key, in an ``array``; rebuilt
  twice as large from the runs when it fills) answers "certainly not on disk" for nearly
  every new id, so only a repeat or a false positive costs a read.

Heavy steps (a spill, a merge, a rebuild) go ``step`` keys at a time, and ``add_new_async``
hands the loop back between them, as the numpy one does.
"""

from __future__ import annotations

import logging
import os
from array import array
from collections.abc import Sequence
from typing import Final

from .frame import SteppedDeduper, Steps
from .plain_runs import Runs
from .run_files import KEY_SIZE

log = logging.getLogger("bulkdel.dedupe")

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


class PlainDeduper(SteppedDeduper):
    """Remembers every id seen; answers "new?" exactly, in bounded memory, without numpy.

    The arguments and the one-caller-at-a-time rule are those of ``NumpyDeduper``; ``hint``:
    whether to name the numpy extra past ``HINT_AT`` ids.
    """

    MEMTABLE, BLOCK, BLOOM_CAPACITY = 1 << 17, 256, 1 << 20
    RUNS = Runs
    _runs: Runs

    def __init__(
        self, spill_dir: str | os.PathLike[str] | None = None, *, hint: bool = True, **sizes: int
    ) -> None:
        super().__init__(spill_dir, **sizes)
        self._mem: set[bytes] = set()
        self._on_disk = 0
        self._bloom = Bloom(0)  # sized at the first spill: a short input never needs one
        self.hint = hint
        self._hinted = False

    def __len__(self) -> int:
        return self._on_disk + len(self._mem) + len(self._other)

    def held(self) -> tuple[set[bytes], set[str]]:
        """The keys in memory and the ids that are not hex keys: every id seen, until the
        first spill."""
        return self._mem, self._other

    def _add(self, values: Sequence[str]) -> list[bool]:
        half = self._max_table // 2
        flags: list[bool] = []
        for start in range(0, len(values), half):
            part = values[start : start + half]
            for _ in self._room(len(part)):
                pass
            flags += self._add_values(part)
        if self.hint and not self._hinted and len(self) > HINT_AT:
            self._hinted = True
            log.warning(HINT)
        return flags

    def _room(self, count: int) -> Steps:
        """Room in the memtable for ``count`` more keys: a spill when it would overflow."""
        if len(self._mem) + count > self._max_table and self._mem:
            yield from self._spill()

    def _add_packed(self, raw: bytes) -> list[bool]:
        return self._add_keys([raw[i : i + KEY_SIZE] for i in range(0, len(raw), KEY_SIZE)])

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

    def _spill(self) -> Steps:
        """The memtable goes to disk as a sorted run; the Bloom filter takes its keys."""
        keys = sorted(self._mem)
        self._mem = set()
        yield
        step = self._step
        yield from self._runs.add(keys[i : i + step] for i in range(0, len(keys), step))
        self._on_disk += len(keys)
        if self._on_disk > self._bloom.capacity:
            yield from self._rebuild_bloom()
            return
        for start in range(0, len(keys), step):
            self._bloom.add_all(keys[start : start + step])
            yield

    def _rebuild_bloom(self) -> Steps:
        """A filter twice as large, from every key on disk (the old one is freed first)."""
        self._bloom = Bloom(0)
        bloom = Bloom(max(self._on_disk + 1, self._bloom_floor))
        for keys in self._runs.all_keys():
            bloom.add_all(keys)
            yield
        self._bloom = bloom
