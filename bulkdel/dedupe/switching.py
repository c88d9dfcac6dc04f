"""The de-duplication a run uses: the plain one while the input is short, numpy's from where
the plain one would first spill, where numpy is installed.

numpy is imported then, not before: a run that never gets there never pays its import. The
answers are those of a ``set`` either way, so a run's report is the same whichever answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from .frame import SteppedDeduper, Steps, pump
from .plain_deduper import PlainDeduper

if TYPE_CHECKING:
    from .numpy_deduper import NumpyDeduper

#: ids past which numpy's de-duplication takes over: twice the plain memtable's default, so
#: that an input of up to about 262,000 ids (26 MiB in the plain one's set, about what numpy's
#: import and table take) never pays numpy's import, a tenth of a second of a short run
SWITCH_AT: Final = 1 << 18


def _import_numpy_deduper() -> None:
    """Import numpy's de-duplication (and numpy); a broken install is found by the move."""
    with contextlib.suppress(ImportError):
        importlib.import_module(".numpy_deduper", __package__)


def numpy_installed() -> bool:
    """Whether numpy can be found (the ``large`` extra), without importing it."""
    try:
        return importlib.util.find_spec("numpy") is not None
    except (ImportError, ValueError):  # a finder that refuses it; a half-removed install
        return False


class Deduper:
    """Remembers every id seen; answers "new?" exactly, in bounded memory.

    The plain de-duplication answers first; past ``switch_at`` ids, where numpy is
    installed, its memory moves to numpy's (in steps, in ``add_new_async``), which answers
    from then on. One caller at a time (``SteppedDeduper``); a cancelled move leaves the
    plain one answering, and the next call moves again.

    Args:
        spill_dir: where runs of keys go when memory fills (``NumpyDeduper``).
        switch_at: ids past which numpy's takes over.
        use_numpy: whether it may (None: where numpy is installed).
        plain_options, numpy_options: the other arguments of each (tests and benchmarks).
        expected: about how many ids the input holds, when it can be told up front (the
            size of its files): past ``switch_at``, numpy's answers from the start, so
            the run does not pay for moving the plain one's memory midway.
    """

    def __init__(
        self,
        spill_dir: str | os.PathLike[str] | None = None,
        *,
        switch_at: int = SWITCH_AT,
        use_numpy: bool | None = None,
        plain_options: Mapping[str, int] | None = None,
        numpy_options: Mapping[str, int] | None = None,
        expected: int | None = None,
    ) -> None:
        self._spill_dir = spill_dir
        self._switch_at = switch_at
        self._numpy_options = dict(numpy_options or {})
        plain = dict(plain_options or {})
        switching = numpy_installed() if use_numpy is None else use_numpy
        if switching:  # it never spills: it moves first
            plain["memtable"] = switch_at
        #: the plain one, while numpy's may still take over
        self._plain: PlainDeduper | None = None
        first = PlainDeduper(spill_dir, **plain, hint=not switching)
        self._current: SteppedDeduper = first
        #: an input known to be long moves at its first add, while the plain one holds
        #: nothing (constructed in a caller's loop, so the import waits for that add)
        self._long = expected is not None and expected > switch_at
        if switching:
            self._plain = first

    def __len__(self) -> int:
        return len(self._current)

    @property
    def uses_numpy(self) -> bool:
        """numpy's de-duplication answers now."""
        return not isinstance(self._current, PlainDeduper)

    @property
    def spilled_runs(self) -> int:
        """Runs on disk now (for tests and benchmarks)."""
        return self._current.spilled_runs

    def is_new(self, value: str) -> bool:
        """Record ``value``; True when it was not seen before."""
        return self.add_new([value])[0]

    def add_new(self, values: Sequence[str]) -> list[bool]:
        """Record ``values`` in order; True for each one not seen before (nor earlier in
        ``values``)."""
        if self._moving(len(values)):
            for _ in self._move():
                pass
        return self._current.add_new(values)

    async def add_new_async(self, values: Sequence[str]) -> list[bool]:
        """``add_new``, handing the caller's loop back between the steps of the heavy work
        (the move to numpy's among them)."""
        if self._moving(len(values)):
            # numpy's import holds the interpreter for a tenth of a second or more: in a
            # thread, the caller's loop gets its turns in between (as ``core.lazy`` does)
            await asyncio.to_thread(_import_numpy_deduper)
            await pump(self._move())
        return await self._current.add_new_async(values)

    def _moving(self, count: int) -> bool:
        plain = self._plain
        return plain is not None and (self._long or len(plain) + count > self._switch_at)

    def _move(self) -> Steps:
        """numpy's de-duplication takes the plain one's memory, then answers."""
        plain = self._plain
        assert plain is not None
        try:
            # imported already, off the loop, where the move is awaited
            from .numpy_deduper import NumpyDeduper
        except ImportError:  # found but broken: the plain one goes on, and spills
            self._plain, plain.hint = None, True
            return
        large: NumpyDeduper = NumpyDeduper(self._spill_dir, **self._numpy_options)
        try:
            yield from large.take_keys(*plain.held())
        except BaseException:  # cancelled: the plain one still holds everything
            large.close()
            raise
        self._current, self._plain = large, None
        plain.close()

    def close(self) -> None:
        """Let go of the runs on disk (idempotent; their files are already unlinked)."""
        self._current.close()

    async def aclose(self) -> None:
        """``close``, handing the loop back while the files' blocks are freed."""
        await self._current.aclose()
