"""What a caller's callback's error does: it stops the run, and the accounting is kept.

A caller hands bulkdel code of its own: ledger sinks (``sinks=``) and run observers
(``observers=``, ``RunEvents(on_progress=..., on_batch=...)``). When one of them raises, the
run stops as ``deleter.stop()`` would (no new request, requests in flight settle, every id
accounted in the report and its files), and ``run``/``delete_files`` then raise that same
exception, the caller's own type (``except ConnectionError`` catches it), with the report on
``BulkDeleter.last_report``. Before, the error escaped from a task inside the run as an
``ExceptionGroup``, stopped it in the middle and lost the report.

bulkdel's own sinks (the report files, the journal, the manifest) are called first, so an
outcome is on record before a caller's sink sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from ..errors import UsageError
from ..record.ledger import LedgerSink
from ..telemetry.observer import Attempt, BatchTally, RunObserver, RunView

#: the methods a ledger sink must have
SINK_METHODS: Final = ("invalid", "duplicate", "deleted", "missing", "failed", "not_attempted")

#: told of a caller's callback that raised: the error, and which callback it was
OnError = Callable[[BaseException, str], None]


def checked_sinks(sinks: Sequence[object]) -> list[LedgerSink]:
    """``sinks``, each checked to have every ledger method (before anything is read).

    Raises:
        UsageError: a sink lacks one (naming ``sinks``).
    """
    for sink in sinks:
        missing = [name for name in SINK_METHODS if not callable(getattr(sink, name, None))]
        if missing:
            raise UsageError(
                f"sinks: {type(sink).__name__} has no {', '.join(missing)} (a ledger sink "
                f"needs {', '.join(SINK_METHODS)})",
                "sinks",
            )
    return list(sinks)  # type: ignore[arg-type]  # checked just above


class GuardedSink:
    """A caller's ledger sink whose error stops the run instead of escaping from it; once it
    has raised, it is told nothing more."""

    __slots__ = ("_failed", "_on_error", "_sink")

    def __init__(self, sink: LedgerSink, on_error: OnError) -> None:
        self._sink = sink
        self._on_error = on_error
        self._failed = False

    def _call(self, method: str, *args: object) -> None:
        if self._failed:
            return
        try:
            getattr(self._sink, method)(*args)
        except Exception as error:
            self._failed = True
            self._on_error(error, f"sink {type(self._sink).__name__}.{method}")

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        self._call("invalid", source, line, value, reason)

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        self._call("duplicate", file_id, source, line)

    def deleted(self, file_ids: Sequence[str]) -> None:
        self._call("deleted", file_ids)

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        self._call("missing", file_ids, after_retry)

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        self._call("failed", file_id, error, status, attempts)

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        self._call("not_attempted", file_ids)


class GuardedObserver(RunObserver):
    """A caller's run observer whose error stops the run (``RunView.callback_failed``)
    instead of escaping from it; once it has raised, it is told nothing more."""

    __slots__ = ("_failed", "_observer")

    def __init__(self, observer: RunObserver) -> None:
        self._observer = observer
        self._failed = False

    def _guard(self, run: RunView, method: str, call: Callable[[], None]) -> None:
        if self._failed:
            return
        try:
            call()
        except Exception as error:
            self._failed = True
            run.callback_failed(error, f"observer {type(self._observer).__name__}.{method}")

    def run_started(self, run: RunView) -> None:
        self._guard(run, "run_started", lambda: self._observer.run_started(run))

    def batch_started(self, run: RunView, batch: BatchTally) -> None:
        self._guard(run, "batch_started", lambda: self._observer.batch_started(run, batch))

    def attempt(self, run: RunView, attempt: Attempt) -> None:
        self._guard(run, "attempt", lambda: self._observer.attempt(run, attempt))

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        self._guard(run, "batch_finished", lambda: self._observer.batch_finished(run, batch))

    def run_finished(self, run: RunView) -> None:
        self._guard(run, "run_finished", lambda: self._observer.run_finished(run))

    def purged(self, requests: int) -> None:
        if not self._failed:
            self._observer.purged(requests)
