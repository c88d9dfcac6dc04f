"""One injectable notion of time for a run: a monotonic clock and a way to wait on it.

Every part that waits or measures time (pipeline, work pool, budget, pager, retries) takes a
``Clock``, so tests drive them on virtual time and never sleep on the wall clock.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class Clock(Protocol):
    """A monotonic clock in seconds, and a sleep measured on it."""

    def time(self) -> float:
        """Now, in seconds (only differences mean anything)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class LoopClock:
    """The running event loop's clock and ``asyncio.sleep``: the default everywhere."""

    __slots__ = ()

    def time(self) -> float:
        """The loop's monotonic time."""
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)


#: the clock every part uses unless given another
LOOP_CLOCK: LoopClock = LoopClock()
