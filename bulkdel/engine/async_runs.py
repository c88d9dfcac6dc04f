"""An async iterable's items in runs: every item it has given since the reader last looked.

One task drains the iterable into a list while the reader takes what is there: a source
that yields many items without waiting (a database cursor's page) comes out in long runs,
and one whose next item is long in coming still hands over at once what it gave (one item a
chunk measured 15 times slower than a list).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any


class _Drain:
    """The items drained so far, and how the draining ended."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.run: list[Any] = []
        #: [None] once the source ended, [error] when it raised
        self.ended: list[BaseException | None] = []
        self.ready = asyncio.Event()  # the run has items, or the source ended
        self.room = asyncio.Event()  # the run has room again

    async def drain(self, ids: AsyncIterable[Any]) -> None:
        iterator = aiter(ids)
        try:
            async for value in iterator:
                self.run.append(value)
                self.ready.set()
                if len(self.run) >= self.most:
                    self.room.clear()
                    await self.room.wait()
            self.ended.append(None)
        except Exception as error:  # handed to the reader, which raises it
            self.ended.append(error)
        finally:
            self.ready.set()
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                await closer()


async def async_runs(ids: AsyncIterable[Any], most: int) -> AsyncIterator[list[Any]]:
    """The items of ``ids`` in runs of at most ``most``, each as soon as the reader asks.

    Raises:
        Exception: what the source raised, once every item it gave before is handed over.
    """
    state = _Drain(most)
    pump = asyncio.ensure_future(state.drain(ids))
    try:
        while True:
            if not state.run and not state.ended:
                state.ready.clear()
                await state.ready.wait()
            if state.run:
                taken = state.run[:]
                state.run.clear()
                state.room.set()
                yield taken
            elif state.ended:  # only once every item it gave is handed over
                if state.ended[0] is not None:
                    raise state.ended[0]
                return
    finally:
        if not pump.done():
            pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
