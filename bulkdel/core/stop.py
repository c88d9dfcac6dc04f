"""One stop signal for a run: an event, the first reason given, and a sleep that a stop ends.

The pipeline, the budget, the retries and the pager all wait through ``StopSignal.sleep``
and check ``StopSignal.is_set``; a stop raises ``bulkdel.errors.Stopped`` out of any wait, so
no part polls a flag and no part needs another's private exception.
"""

from __future__ import annotations

import asyncio

from ..errors import Stopped
from ..models import Abort, AbortReason
from .clock import LOOP_CLOCK, Clock

#: the reason of a stop asked for with none of its own (the library's ``stop()``)
STOPPED: Abort = Abort(AbortReason.STOPPED)


class StopSignal:
    """Set once; every waiter wakes at once.

    Args:
        clock: whose ``sleep`` the waits use.
    """

    __slots__ = ("_event", "clock", "reason")

    def __init__(self, clock: Clock = LOOP_CLOCK) -> None:
        self._event = asyncio.Event()
        self.clock = clock
        #: why the run stopped, or None while it goes on
        self.reason: Abort | None = None

    @property
    def is_set(self) -> bool:
        """A stop was asked for."""
        return self._event.is_set()

    def set(self, reason: Abort = STOPPED) -> None:
        """Stop; the first reason given wins."""
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def check(self) -> None:
        """Raise ``Stopped`` if a stop was asked for."""
        if self._event.is_set():
            raise Stopped(self.reason)

    async def wait(self) -> None:
        """Until a stop is asked for."""
        await self._event.wait()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the clock unless a stop comes first.

        Raises:
            Stopped: a stop was asked for, before or during the sleep.
        """
        self.check()
        if seconds <= 0:
            await asyncio.sleep(0)
            self.check()
            return
        napping = asyncio.ensure_future(self.clock.sleep(seconds))
        stopping = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait({napping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            napping.cancel()
            stopping.cancel()
        self.check()
