"""SIGINT/SIGTERM while a command runs: the first stops gracefully, the second at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..models import Abort, AbortReason

_STOPPING = "\nbulkdel: stopping: letting requests in flight settle (signal again to stop at once)"


@dataclass
class Interrupts:
    """The signals received so far."""

    #: why the first signal stopped the command (``interrupted by SIGINT``), or None
    abort: Abort | None = None
    count: int = 0

    @property
    def forced(self) -> bool:
        """A second signal cancelled the running task."""
        return self.count >= 2


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[Abort], None]) -> Iterator[Interrupts]:
    """While inside, the first SIGINT/SIGTERM calls ``stop`` with the reason; the second
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
            seen.abort = Abort(AbortReason.INTERRUPTED, signal.Signals(signum).name)
            print(_STOPPING, file=sys.stderr)
            stop(seen.abort)
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
