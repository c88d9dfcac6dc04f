"""A small TCP proxy that makes network faults real between two processes (a worker and Redis,
or bulkdel and the fake API): pass bytes through, cut every connection, stall (hold every byte,
keep the sockets open), or slow each chunk down.

It runs its own event loop in a thread, so a test drives real subprocesses through it::

    with FaultProxy(("127.0.0.1", redis.port)) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        ...
        proxy.stall()      # bytes stop moving both ways; sockets stay open (a frozen server)
        proxy.resume()     # what was held flows on, in order
        proxy.cut()        # every connection reset; new ones refused until resume()
        proxy.slow(0.05)   # each chunk waits 50 ms each way
        proxy.lose_answers()  # requests reach the target, its answers are dropped

Faults are switched between bytes, never inside the proxy's own bookkeeping, so what a peer
sees is what a real network (or a stopped server) does to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Final

#: bytes read at a time from either side
CHUNK: Final = 65536


class FaultProxy:
    """A TCP proxy in front of ``target`` on a free local port.

    Args:
        target: (host, port) to forward to.

    Attributes:
        port: the port to connect to instead of the target's.
        connections: connections accepted so far.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._refusing = False
        self._delay = 0.0
        self._losing = False
        self._writers: set[asyncio.StreamWriter] = set()

    # -- the switches (called from the test's thread) --------------------------------------

    def stall(self) -> None:
        """Hold every byte in both directions; connections stay open (a frozen server)."""
        self._call(self._set_flowing, False)

    def resume(self) -> None:
        """Back to normal: held bytes flow on, new connections are accepted, no delay."""
        self._delay = 0.0
        self._refusing = False
        self._losing = False
        self._call(self._set_flowing, True)

    def cut(self) -> None:
        """Reset every open connection and refuse new ones until ``resume``."""
        self._refusing = True
        self._call(self._close_all)

    def lose_answers(self) -> None:
        """Requests flow on to the target; what it answers is dropped (a connection that
        dies after the request was sent): ``cut`` then ``resume`` to go on."""
        self._losing = True

    def slow(self, seconds: float) -> None:
        """Delay each chunk by ``seconds`` in each direction."""
        self._delay = seconds

    # -- the proxy itself ------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, function: object, *args: object) -> None:
        async def run() -> None:
            function(*args)  # type: ignore[operator]

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def _set_flowing(self, flowing: bool) -> None:
        assert self._flowing is not None
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    def _close_all(self) -> None:
        for writer in list(self._writers):
            transport = writer.transport
            # abort, not close: the peer sees a reset, as after a cable pulled or a crash
            transport.abort()
        self._writers.clear()

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._close_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # a stalled pipe waits on ``_flowing`` forever: its task would be collected pending
        # once the loop is closed ("Task was destroyed but it is pending!")
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer),
            self._pipe(up_reader, writer, answers=True),
            return_exceptions=True,
        )
        for side in (writer, up_writer):
            self._writers.discard(side)
            side.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answers: bool = False
    ) -> None:
        assert self._flowing is not None
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            await self._flowing.wait()
            if self._delay:
                await asyncio.sleep(self._delay)
            if writer.transport.is_closing():
                break
            if answers and self._losing:
                continue
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()
