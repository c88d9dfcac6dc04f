"""SIGINT/SIGTERM while a command runs: the first stops gracefully, the second at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_STOPPING = "\nbulkdel: stopping: letting requests in flight settle (signal again to stop at once)"


@dataclass
class Interrupts:
    """The signals received so far."""

    #: the first signal's name (``SIGINT``), or None
    first: str | None = None
    count: int = 0

    @property
    def forced(self) -> bool:
        """A second signal cancelled the running task."""
        return self.count >= 2


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[Interrupts]:
    """While inside, the first SIGINT/SIGTERM calls ``stop(signal name)``; the second
    cancels the current task (the caller tells that cancellation by ``forced``).

    Where the loop cannot take signal handlers (not the main thread, Windows), nothing is
    installed and a Ctrl-C raises KeyboardInterrupt as usual.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    seen = Interrupts()

    def on_signal(signum: int) -> None:
        seen.count += 1
        if seen.count == 1:
            seen.first = signal.Signals(signum).name
            print(_STOPPING, file=sys.stderr)
            stop(seen.first)
        elif task is not None:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
    try:
        yield seen
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
