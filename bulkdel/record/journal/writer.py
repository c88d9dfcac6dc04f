"""The journal's writer thread: operations queued by the event loop, committed in groups.

Every wake-up of this thread, and every SQLite statement it runs (each lets go of the GIL),
costs the event loop a GIL hand-off; measured, those hand-offs were most of what the
journal cost a fast run. So operations wait in a deque and only an awaited one (or a
backlog) rings the bell; a transaction writes its in-flight marks, deleted ids and landings
as one statement each, whatever their number; and one call into the loop settles all the
futures a transaction answers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

#: (kind, payload, the future of whoever waits for it)
Op = tuple[str, Any, "asyncio.Future[Any] | None"]
Done = tuple["asyncio.Future[Any] | None", Any, BaseException | None]

#: operations nobody waits for that wake the thread early; otherwise they ride with the
#: next awaited one (every batch awaits its in-flight mark), or go after ``FLUSH_S``
WAKE_AT: Final = 512
FLUSH_S: Final = 0.05
#: the kinds every batch writes, each one statement a transaction
MERGED: Final = ("in_flight", "deleted", "landed")
_MAX_ROWS: Final = 400  # bound variables a statement: 2 a row, under SQLite's old 999


class Writer:
    """Applies queued operations in grouped transactions, on its own thread.

    Args:
        conn: the journal's connection (used only from the thread once started).
        apply: applies one operation of a kind not in ``MERGED``; returns its result.
        rolled_back: called after a transaction rolled back.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        apply: Callable[[str, Any], Any],
        rolled_back: Callable[[], None],
    ) -> None:
        self._conn = conn
        self._apply = apply
        self._rolled_back = rolled_back
        self._ops: collections.deque[Op] = collections.deque()
        self._bell: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bulkdel-journal", daemon=True)
        self._thread.start()

    def submit(self, kind: str, payload: Any, wait: bool = False) -> asyncio.Future[Any] | None:
        """Queue an operation; with ``wait``, a future of its result (call inside the loop)."""
        future = asyncio.get_running_loop().create_future() if wait else None
        self._ops.append((kind, payload, future))
        if wait or len(self._ops) >= WAKE_AT:
            self._bell.put(None)
        return future

    def join(self) -> None:
        """Wait for the thread to end (after a "stop" operation)."""
        self._thread.join()

    def _take(self) -> list[Op]:
        """Wait for the bell (or the flush interval); then everything queued."""
        with contextlib.suppress(queue.Empty):
            self._bell.get(timeout=FLUSH_S)
        with contextlib.suppress(queue.Empty):
            while True:
                self._bell.get_nowait()
        ops = self._ops
        return [ops.popleft() for _ in range(len(ops))]

    def _run(self) -> None:
        while True:
            ops = self._take()
            if not ops:
                continue
            stop = any(kind == "stop" for kind, _, _ in ops)
            work = [op for op in ops if op[0] != "stop"]
            done: list[Done] = []
            try:
                results = self._transaction(work)
            except Exception:
                # One bad operation must not cost the others their write: apply each alone,
                # and hand the error to the caller of the one that fails.
                for op in work:
                    try:
                        (result,) = self._transaction([op])
                    except Exception as exc:
                        done.append((op[2], None, exc))
                    else:
                        done.append((op[2], result, None))
            else:
                done += [(op[2], result, None) for op, result in zip(work, results, strict=True)]
            if stop:
                self._conn.close()
                done += [(op[2], None, None) for op in ops if op[0] == "stop"]
            _hand_back(done)
            if stop:
                return

    def _transaction(self, ops: list[Op]) -> list[Any]:
        conn = self._conn
        conn.execute("BEGIN")
        try:
            results = self._apply_all(ops)
        except BaseException:
            conn.execute("ROLLBACK")
            self._rolled_back()
            raise
        conn.execute("COMMIT")
        return results

    def _apply_all(self, ops: list[Op]) -> list[Any]:
        """Apply ``ops``: the kinds of every batch first, one statement each. Outcomes never
        overwrite a final one, so their order within a transaction is free."""
        merged: dict[str, list[Any]] = {kind: [] for kind in MERGED}
        for kind, payload, _ in ops:
            if kind in merged:
                merged[kind].append(payload)
        conn = self._conn
        for rows in _pieces(merged["in_flight"]):
            values = ",".join(["(?, ?)"] * len(rows))
            conn.execute(f"INSERT INTO in_flight VALUES {values}", [x for row in rows for x in row])
        if merged["deleted"]:
            # Deleted ids, the bulk of a job, go one row a transaction: a row an id cost more
            # than the request itself. Lookups index them on demand (``Lookup``).
            conn.execute("INSERT INTO deleted (ids) VALUES (?)", (",".join(merged["deleted"]),))
        for tokens in _pieces(merged["landed"]):
            marks = ",".join("?" * len(tokens))
            conn.execute(f"DELETE FROM in_flight WHERE batch IN ({marks})", tokens)
        return [None if kind in merged else self._apply(kind, payload) for kind, payload, _ in ops]


def _pieces(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _MAX_ROWS):
        yield items[start : start + _MAX_ROWS]


def _hand_back(done: list[Done]) -> None:
    """Settle the awaited futures of one transaction with one wake-up of their loop."""
    waited = [item for item in done if item[0] is not None]
    if waited:
        future = waited[0][0]
        assert future is not None
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            future.get_loop().call_soon_threadsafe(_settle_all, waited)


def _settle_all(done: list[Done]) -> None:
    for future, result, error in done:
        if future is None or future.done():
            continue  # a caller that stopped waiting (cancelled)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
