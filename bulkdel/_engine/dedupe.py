"""Exact de-duplication of ids in bounded memory: numpy's where it is installed, the standard
library's otherwise.

Both answer as a ``set`` would, at any size, with temporary files beside the report or journal
once memory fills, and in about the same memory. numpy (the ``large`` extra: ``pip install
'bulkdel[large]'``) costs 72 MiB installed and 0.2 s of import, and is faster at millions of
ids: a dry run of 1M ids at 1.75 times the plain install's ids/s, of 10M at 3.8 times
(``benchmarks/DEDUPE_PLAIN_RESULTS.md``). The plain install says so once, in a log warning
(``bulkdel.dedupe``), past 5M ids. ``dedupe_numpy`` and ``dedupe_plain`` tell how each works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol


class SeenIds(Protocol):
    """What the reader asks of its de-duplication (``Deduper``)."""

    async def add_new_async(self, values: Sequence[str]) -> list[bool]:
        """Record ``values``; True for each one not seen before."""
        ...

    async def aclose(self) -> None:
        """Free what is held (files on disk)."""
        ...


def numpy_installed() -> bool:
    """Whether numpy imports (the ``large`` extra)."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


if TYPE_CHECKING or numpy_installed():
    from .dedupe_numpy import Deduper
else:  # the plain install
    from .dedupe_plain import Deduper

__all__ = ["Deduper", "SeenIds", "numpy_installed"]
