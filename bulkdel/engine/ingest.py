"""The one ingest stage: chunks of items -> the id rule -> de-duplication -> batches.

``bulkdel delete`` (the pipeline's ``Reader``) and ``job submit`` (``jobs.submit``) both read
their input through ``Ingest`` and cut it with ``Batches``: an id is validated, found new or
repeated and put in a batch by the same code whichever of them reads it. What each does with
the result is its own: the Reader hands batches to its work pool and records invalid and
repeated ids in its ledger; the submitter commits them to Redis.

Every item has an input position: its 1-based rank among all the items read (valid or not),
across every source. The submitter commits positions, so that a resumed submit skips what was
committed (``skip``) yet de-duplicates against it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress

from ..dedupe import SeenIds
from ..models import Chunk, CleanItems, Item

#: an item with its input position
Placed = tuple[int, Item]


@dataclass(frozen=True, slots=True)
class Accepted:
    """One chunk through the id rule and de-duplication.

    Attributes:
        source: the chunk's source name.
        end: the input position of the chunk's last item.
        fresh: the valid ids not seen before, in input order.
        fresh_at: the input position of each of ``fresh`` (a ``range`` when they are
            consecutive).
        invalid: the items that fail the id rule.
        duplicates: the valid items seen before.
    """

    source: str
    end: int
    fresh: list[str]
    fresh_at: Sequence[int]
    invalid: list[Placed]
    duplicates: list[Placed]


class Ingest:
    """Validates and de-duplicates chunks, in input order.

    Args:
        dedupe: remembers every id seen (``Deduper``); closed by ``aclose``.
        skip: items up to this input position are de-duplicated (a later repeat of one of
            them is a duplicate) but left out of what ``accept`` returns: an earlier run
            accounted them.
    """

    def __init__(self, dedupe: SeenIds, *, skip: int = 0) -> None:
        self.dedupe = dedupe
        self.skip = skip
        #: the input position of the last item accepted
        self.position = 0

    async def accept(self, chunk: Chunk) -> Accepted:
        """The chunk's new ids, invalid items and repeats (one de-duplication call)."""
        items = chunk.items
        start = self.position
        self.position = start + len(items)
        if type(items) is CleanItems:
            accepted = await self._accept_clean(chunk.source, items, start)
        else:
            accepted = await self._accept_items(chunk.source, items, start)
        return accepted if start >= self.skip else _after(accepted, self.skip)

    async def _accept_clean(self, source: str, items: CleanItems, start: int) -> Accepted:
        """``accept`` for items that all passed the id rule: no step per id but the
        de-duplication's, unless some are repeats."""
        values = items.ids
        end = start + len(values)
        seen = len(self.dedupe)
        new = await self.dedupe.add_new_async(values)
        places = range(start + 1, end + 1)
        if len(self.dedupe) - seen == len(values):
            # every one new, as most are (told without a look at each): the ids as read,
            # their places as a range
            return Accepted(source, end, values, places, [], [])
        shift = items.first - start - 1  # an item's line, less its input position
        duplicates: list[Placed] = [
            (p, (p + shift, value, None))
            for p, value, is_new in zip(places, values, new, strict=True)
            if not is_new
        ]
        fresh = list(compress(values, new))
        return Accepted(source, end, fresh, list(compress(places, new)), [], duplicates)

    async def _accept_items(self, source: str, items: Sequence[Item], start: int) -> Accepted:
        """``accept`` for items of any kind."""
        end = start + len(items)
        values = [value for _, value, problem in items if problem is None]
        new = await self.dedupe.add_new_async(values)  # a spill hands the loop back in steps
        places: Sequence[int] = range(start + 1, end + 1)
        invalid: list[Placed] = []
        if len(values) < len(items):
            valid = [item[2] is None for item in items]
            placed = zip(places, items, valid, strict=True)
            invalid = [(p, item) for p, item, ok in placed if not ok]
            places = list(compress(places, valid))
            items = [item for item, ok in zip(items, valid, strict=True) if ok]
        fresh = list(compress(values, new))
        fresh_at = list(compress(places, new))
        duplicates: list[Placed] = []
        if len(fresh) < len(values):
            duplicates = [
                (p, item) for p, item, is_new in zip(places, items, new, strict=True) if not is_new
            ]
        return Accepted(source, end, fresh, fresh_at, invalid, duplicates)

    async def aclose(self) -> None:
        """Free what de-duplication holds (files on disk, in steps)."""
        await self.dedupe.aclose()


def _after(accepted: Accepted, skip: int) -> Accepted:
    """``accepted`` without what lies at or before input position ``skip``."""
    if accepted.end <= skip:
        return Accepted(accepted.source, accepted.end, [], [], [], [])
    first = bisect_right(accepted.fresh_at, skip)
    return Accepted(
        accepted.source,
        accepted.end,
        accepted.fresh[first:],
        accepted.fresh_at[first:],
        [placed for placed in accepted.invalid if placed[0] > skip],
        [placed for placed in accepted.duplicates if placed[0] > skip],
    )


class Batches:
    """Cuts accepted ids into batches of ``size``, in slices (no per-id Python step).

    Each id may carry its input position; a batch then reports the position of its last id.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: list[str] = []
        self._at: list[int] = []

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: list[str], at: Sequence[int] | None = None) -> list[tuple[list[str], int]]:
        """Add ``ids`` (with their positions, if known); returns the batches now full, each
        with the input position of its last id (0 when positions are not given)."""
        self._ids += ids
        if at is not None:
            self._at += at
        size = self.size
        full: list[tuple[list[str], int]] = []
        start = 0
        while len(self._ids) - start >= size:
            stop = start + size
            full.append((self._ids[start:stop], self._at[stop - 1] if self._at else 0))
            start = stop
        if start:
            self._ids = self._ids[start:]
            self._at = self._at[start:]
        return full

    def rest(self) -> list[str]:
        """The ids of the batch not full yet, taken out."""
        ids, self._ids, self._at = self._ids, [], []
        return ids
