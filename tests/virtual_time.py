"""An event loop on virtual time: every wait takes no wall time, in order, deterministically.

The loop's ``time()`` is a counter that jumps to the next timer whenever nothing is ready, so
``asyncio.sleep``, aiohttp-free code on ``LOOP_CLOCK`` and aiolimiter all run at once while
seeing the seconds they asked for. Only for code that does no real I/O.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _Selector(selectors.DefaultSelector):
    """Never blocks: a wait for the next timer moves the loop's clock there instead."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if events or self.loop is None:
            return events
        if timeout is None:
            raise RuntimeError("deadlock: nothing scheduled and nothing ready on virtual time")
        self.loop.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector loop whose clock is virtual (starts at 0)."""

    def __init__(self) -> None:
        selector = _Selector()
        super().__init__(selector)
        selector.loop = self
        self.now = 0.0

    def time(self) -> float:
        return self.now


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to the end on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        # as asyncio.run does: what is left is cancelled, not destroyed pending
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
