"""Exact de-duplication of ids in bounded memory, with numpy (the ``large`` extra).

ImageKit ids (24 lowercase hex characters) are packed into 12-byte keys and handled a chunk
at a time with numpy; other ids go into a plain ``set`` (they are rare, and cost what a str
costs). A hex key is looked for in two places:

* an in-memory hash table (numpy, open addressing, at most half full) of the last 262,144
  new keys, the ``memtable``; it also finds repeats within a chunk. It starts at 4,096 keys
  (224 KiB) and doubles as the input grows, so that a short input never pays for the full
  table (14 MiB);
* sorted runs of keys on disk (``numpy_runs``: temporary files beside the report or journal,
  unlinked at once), each found through one in-memory fence every ``block`` keys and merged
  four at a time, so that there are a handful of runs at 100M ids. A Bloom filter of the
  keys on disk (20 bits a key, rebuilt twice as large from the runs when it fills) sits in
  front: its "no" is certain and is the answer for nearly every new id, so only its "maybe"
  (a repeat, or a false positive) costs a read; it is never the answer alone.

Why a memtable in front of sorted runs, and not a ``set`` of packed ints or one whole table:
memory (the floor is 16 bytes an id at 10M ids) and the add's cost; the figures are in
``benchmarks/DESIGN_NOTES.md`` and the peaks at 10M-100M ids in ``benchmarks/RESULTS.md``.

The caller's loop: a spill, a merge and a filter rebuild cost in proportion to what is on
disk (a merge of the fourth level reads and writes 16.8M keys: about a second), so they, the
table's growth and the freeing of merged-away files go in steps of ``step`` keys (16 MiB of
a file), and ``add_new_async`` hands the loop back between two steps (its caller's next
chunk waits, as it did before); the sync ``add_new`` takes the same steps without a pause.
What made single steps long, once cut: sorting the whole table (the drain sorts each range
of home slots instead), joining its parts, closing a large run at once, and the kernel's
compaction for a huge page (``numpy_table._zeros``). A worker thread was tried first: the
loop's own numpy calls (a chunk's lookup is some thirty of them) each gave the GIL away and
waited up to the 5 ms switch interval to get it back, so a 5M-id dry run took 1.5 to 2
times as long and a 1 ms ticker was still late by tens of milliseconds. Figures:
``benchmarks/RESULTS.md``, "The caller's event loop".
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from . import numpy_runs
from .frame import SteppedDeduper, Steps
from .numpy_runs import KEY, Runs
from .numpy_table import Bloom, MemTable

if TYPE_CHECKING:
    from .numpy_runs import Bools

_WIRE: Final = np.dtype([("hi", ">u8"), ("lo", ">u4")])
#: keys the memtable holds at first (it doubles up to ``memtable``)
FIRST_TABLE: Final = 1 << 12


class NumpyDeduper(SteppedDeduper):
    """Remembers every id seen; answers "new?" exactly, in bounded memory, with numpy.

    One caller at a time; the arguments are ``SteppedDeduper``'s, and ``first_table``: keys
    the memtable holds at first (at most ``memtable``; it grows to that).
    """

    MEMTABLE, BLOCK, BLOOM_CAPACITY = 1 << 18, 512, 1 << 16
    RUNS = Runs
    _runs: Runs

    def __init__(
        self,
        spill_dir: str | os.PathLike[str] | None = None,
        *,
        first_table: int = FIRST_TABLE,
        **sizes: int,
    ) -> None:
        super().__init__(spill_dir, **sizes)
        self._hex_count = 0
        self._bloom = Bloom(0)  # sized at the first spill: a short input never needs one
        self._table = MemTable(min(first_table, self._max_table))

    def __len__(self) -> int:
        return self._hex_count + len(self._other)

    def warm(self, parts: int = 32) -> Iterator[None]:
        """Fault the in-memory table in, a ``1/parts`` at a time: an async caller awaits
        between the steps, so no step holds its loop long (about 0.3 ms each)."""
        return self._table.touch(parts)

    @property
    def table_size(self) -> int:
        """Keys the in-memory table holds now (for tests and benchmarks)."""
        return self._table.size

    def _add(self, values: Sequence[str]) -> list[bool]:
        return self._add_values(values)

    def _add_packed(self, raw: bytes) -> list[bool]:
        flags: list[bool] = self._add_hex(raw).tolist()
        return flags

    def take_keys(self, keys: Iterable[bytes], others: set[str]) -> Steps:
        """Remember ``keys`` (distinct 12-byte keys, none seen here before) and ``others``
        (ids that are not hex keys), ``step`` keys a step: the plain de-duplication's
        memory, when ``Deduper`` moves to this one."""
        self._other |= others
        keys = list(keys)
        for start in range(0, len(keys), self._step):
            part = keys[start : start + self._step]
            yield from self._room(len(part))
            self._add_hex(b"".join(part))
            yield

    def _room(self, count: int) -> Steps:
        """Room in the table for ``count`` more keys, in steps: a larger table while it may
        grow, then a spill."""
        table = self._table
        if table.count + count <= table.size:
            return
        if table.size < self._max_table:
            size = table.size
            while size < self._max_table and table.count + count > size:
                size *= 2
            self._table = table = yield from table.resized(min(size, self._max_table), self._step)
        if table.count + count > table.size:
            yield from self._spill()

    def _add_hex(self, raw: bytes) -> Bools:
        piece = KEY.itemsize * (self._max_table // 2)
        if len(raw) > piece:
            parts = [self._add_hex(raw[i : i + piece]) for i in range(0, len(raw), piece)]
            return np.concatenate(parts)
        hi, lo = numpy_runs.split_keys(np.frombuffer(raw, _WIRE))
        h = numpy_runs.mix(hi, lo)
        for _ in self._room(len(h)):
            pass
        table = self._table
        new = np.zeros(len(h), np.bool_)
        if self._runs.runs:
            maybe = np.flatnonzero(self._bloom.maybe(h))
            if maybe.size:
                on_disk = maybe[self._runs.contains(h[maybe], hi[maybe], lo[maybe])]
                if on_disk.size:
                    keep = np.ones(len(h), np.bool_)
                    keep[on_disk] = False
                    kept = np.flatnonzero(keep)
                    new[kept] = table.add(h[kept], hi[kept], lo[kept])
                    self._hex_count += int(np.count_nonzero(new))
                    return new
        new = table.add(h, hi, lo)
        self._hex_count += int(np.count_nonzero(new))
        return new

    def _spill(self) -> Steps:
        """The memtable goes to disk; the Bloom filter (of the keys on disk) takes them."""
        parts = yield from self._table.drain(self._step)
        yield from self._runs.add(parts)
        if self._runs.count > self._bloom.capacity:
            yield from self._rebuild_bloom()
            return
        for _, h in parts:
            self._bloom.add(h)
            yield

    def _rebuild_bloom(self) -> Steps:
        """A filter twice as large, from every key remembered (the old one is freed first)."""
        self._bloom = Bloom(0)
        bloom = Bloom(max(self._runs.count + 1, self._bloom_floor))
        for h in self._runs.hashes():
            bloom.add(h)
            yield
        self._bloom = bloom
