"""Exact de-duplication of ids in bounded memory: the standard library's while the input is
short, numpy's past that where it is installed, the standard library's alone otherwise.

Both answer as a ``set`` would, at any size, with temporary files beside the report or journal
once memory fills, and in about the same memory. numpy (the ``large`` extra: ``pip install
'bulkdel[large]'``) costs space and import time, and is several times faster at millions of
ids (``benchmarks/DEDUPE_PLAIN_RESULTS.md``). So ``Deduper`` starts plain and imports numpy only
when the plain one would first spill (``switching``); a plain install says so once, in a log
warning (``bulkdel.dedupe``), past 5M ids. ``numpy_deduper`` and ``plain_deduper`` tell how
each works; ``frame`` and ``run_files`` hold what they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .switching import Deduper, numpy_installed


class SeenIds(Protocol):
    """What the reader asks of its de-duplication (``Deduper``)."""

    async def add_new_async(self, values: Sequence[str]) -> list[bool]:
        """Record ``values``; True for each one not seen before."""
        ...

    def __len__(self) -> int:
        """The distinct ids recorded."""
        ...

    async def aclose(self) -> None:
        """Free what is held (files on disk)."""
        ...


__all__ = ["Deduper", "SeenIds", "numpy_installed"]
