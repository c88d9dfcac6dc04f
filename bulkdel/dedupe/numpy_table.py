"""The de-duplication's in-memory parts: the table of the newest keys and the Bloom filter
of the keys on disk (``numpy_deduper`` tells how they fit together)."""

from __future__ import annotations

import mmap
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from . import numpy_runs
from .numpy_runs import KEY, MIX2

if TYPE_CHECKING:
    import numpy.typing as npt

    from .numpy_runs import U64, Bools

#: Bloom filter: bits a key, and bits set a key inside one 64-bit word
BLOOM_BITS: Final = 20
BLOOM_K: Final = 6

#: arrays this large get small pages of their own (``_zeros``)
_HUGE: Final = 1 << 21


def _zeros(count: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """A zeroed array of small pages: numpy asks for huge pages for arrays of 4 MiB and more,
    and where the kernel compacts memory to find one (``defrag=madvise``), the first write
    to each stalls the loop for up to tens of milliseconds (measured: 37 ms)."""
    size = count * np.dtype(dtype).itemsize
    if size < _HUGE:
        return np.zeros(count, dtype)
    return np.frombuffer(mmap.mmap(-1, size), dtype)  # anonymous: zeroed, never madvised


class Bloom:
    """A blocked Bloom filter: each key sets ``BLOOM_K`` bits of one 64-bit word."""

    def __init__(self, capacity: int) -> None:
        words = 1 << max(6, (capacity * BLOOM_BITS // 64 - 1).bit_length())
        self.capacity = words * 64 // BLOOM_BITS
        self._shift = np.uint64(64 - (words.bit_length() - 1))
        self.words: U64 = _zeros(words, np.uint64)

    def _where(self, h: U64) -> tuple[npt.NDArray[np.intp], U64]:
        index = (h >> self._shift).astype(np.intp)
        bits = h * MIX2
        mask = np.zeros(len(h), np.uint64)
        for i in range(BLOOM_K):
            mask |= np.uint64(1) << ((bits >> np.uint64(6 * i)) & np.uint64(63))
        return index, mask

    def maybe(self, h: U64) -> Bools:
        """False where a key is certainly absent."""
        index, mask = self._where(h)
        found: Bools = (self.words[index] & mask) == mask
        return found

    def add(self, h: U64) -> None:
        index, mask = self._where(h)
        np.bitwise_or.at(self.words, index, mask)


class MemTable:
    """The keys not yet spilled: open addressing in numpy, at most half full.

    A key's home slot is the top bits of its hash, so the table is nearly in hash order and
    a spill sorts it in about linear time.
    """

    def __init__(self, size: int) -> None:
        bits = (2 * size - 1).bit_length()
        self.size = size
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._tag: U64 = _zeros(1 << bits, np.uint64)  # hash | 1; 0 is an empty slot
        self._hi: U64 = _zeros(1 << bits, np.uint64)
        self._lo: npt.NDArray[np.uint32] = _zeros(1 << bits, np.uint32)
        self._owner: npt.NDArray[np.intp] = _zeros(1 << bits, np.intp)
        self.count = 0

    def touch(self, parts: int) -> Iterator[None]:
        """Write the (still zero) slots in ``parts`` steps, yielding after each: the pages
        of a new table are faulted in a few at a time, not all in the first ``add`` (its
        keys land all over the table: 5-25 ms in one go, measured)."""
        arrays = (self._tag, self._hi, self._lo, self._owner)
        for i in range(parts):
            for array in arrays:
                part = len(array) // parts
                array[i * part : (i + 1) * part] = 0
            yield

    def _probe(self, h: U64) -> tuple[U64, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        return h | np.uint64(1), np.arange(len(h)), (h >> self._shift).astype(np.intp)

    def add(self, h: U64, hi: U64, lo: U64) -> Bools:
        """Insert the keys that are not there; True for those, at each key's first place in
        the arguments. The caller keeps ``count + len(h) <= size``."""
        tag, todo, slot = self._probe(h)
        new = np.zeros(len(h), np.bool_)
        owner = self._owner
        while todo.size:
            at = slot[todo]
            there = self._tag[at]
            settled = there == tag[todo]
            if settled.any():  # the same hash: a repeat only if the whole key is the same
                same = np.flatnonzero(settled)
                at_same, key_same = at[same], todo[same]
                differ = (self._hi[at_same] != hi[key_same]) | (self._lo[at_same] != lo[key_same])
                settled[same[differ]] = False
            empty = np.flatnonzero(there == 0)
            if empty.size:
                # keys racing for a free slot: the first in the arguments takes it; the rest
                # look at it again next round (a repeat of the winner then is a repeat)
                places, keys = at[empty], todo[empty]
                owner[places] = len(h)
                np.minimum.at(owner, places, keys)
                won = owner[places] == keys
                places, keys = places[won], keys[won]
                self._tag[places], self._hi[places], self._lo[places] = (
                    tag[keys],
                    hi[keys],
                    lo[keys],
                )
                new[keys] = True
                settled[empty[won]] = True
            moving = ~settled
            moving[empty] = False
            slot[todo[moving]] = (at[moving] + 1) & self._mask
            todo = todo[~settled]
        self.count += int(np.count_nonzero(new))
        return new

    def resized(self, size: int, step: int) -> Generator[None, None, MemTable]:
        """A table of ``size`` keys holding these keys, in steps: its pages faulted in
        (here, not all at once in the next ``add``), then ``step`` keys moved at a time."""
        table = MemTable(size)
        yield from table.touch(max(1, (2 * size) // step))
        used = np.flatnonzero(self._tag)
        for start in range(0, len(used), step):
            part = used[start : start + step]
            # a tag is the hash with its lowest bit set: the same home slot, the same tag
            table.add(self._tag[part], self._hi[part], self._lo[part].astype(np.uint64))
            yield
        return table

    def drain(self, step: int) -> Generator[None, None, list[tuple[npt.NDArray[np.void], U64]]]:
        """Empty the table, the keys of ``step`` home slots at a time; returns its keys in
        hash order, with their hashes, in parts (joining them took 5 ms of CPU in one step).

        A key's home slot is its hash's top bits, so the keys of consecutive home ranges are
        consecutive ranges of hashes: each range sorted on its own, the whole is in order
        (one sort of the whole took 5-8 ms of CPU in one step).
        """
        slots, mask = len(self._tag), self._mask
        parts: list[tuple[npt.NDArray[np.void], U64]] = []
        for start in range(0, slots, step):
            stop = min(start + step, slots)
            # linear probing: a key homed in [start, stop) sits between ``start`` and the
            # first empty slot from ``stop`` on (past the table's end, from its start)
            end = stop
            while self._tag[end & mask] != 0:
                end += 1
            where = np.arange(start, end) & mask
            tags = self._tag[where]
            home = tags >> self._shift
            where = where[(tags != 0) & (home >= start) & (home < stop)]
            part = np.empty(len(where), KEY)
            part["hi"], part["lo"] = self._hi[where], self._lo[where]
            h = numpy_runs.mix(*numpy_runs.split_keys(part))
            order = np.argsort(h, kind="stable")
            parts.append((part[order], h[order]))
            yield
        for start in range(0, slots, step):
            self._tag[start : start + step] = 0
            yield
        self.count = 0
        return parts
