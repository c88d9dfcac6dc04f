"""The durable record of a job: SQLite on local disk, written from one background thread.

One row per unique id (its state and final outcome), plus the invalid lines and repeats seen,
keyed by where they were read, so that running the same input again adds nothing twice.

Writes are grouped: a dedicated thread drains a queue of operations and commits all that
queued up while it was busy in one transaction (WAL, ``synchronous=NORMAL``: a commit is a
write(2), safe against a killed process; only an OS crash can lose the last few), so the event
loop never waits on the disk, except for one thing: ids are marked *in flight* and that mark
is committed **before** their request is sent. After a crash, any id still in flight may have
been deleted without us hearing of it; resume sends it again, and a 404 then means "deleted by
the earlier run". ``kill -9`` loses at most the outcomes not yet committed, all of them of ids
marked in flight, which resume recovers.

States: 0 pending, 1 deleted, 2 missing, 3 failed, 4 in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .errors import JournalMismatchError, UsageError

#: kept in step with ``pipeline.INTERRUPTED_UNKNOWN`` (journal cannot import the pipeline,
#: which imports it)
INTERRUPTED_UNKNOWN: Final = (
    "outcome unknown, the server may have deleted it: the run stopped before an answer said"
)

PENDING, DELETED, MISSING, FAILED, IN_FLIGHT = 0, 1, 2, 3, 4
FINAL: Final = frozenset({DELETED, MISSING, FAILED})
SCHEMA_VERSION: Final = "1"
_LOOKUP_CHUNK: Final = 900
_FINGERPRINT_BYTES: Final = 64 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ids (
    id TEXT PRIMARY KEY,
    state INTEGER NOT NULL,
    error TEXT,
    status INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    after_retry INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ids_state ON ids (state);
CREATE TABLE IF NOT EXISTS invalid (
    source TEXT NOT NULL, line INTEGER NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (source, line)
);
CREATE TABLE IF NOT EXISTS duplicates (
    source TEXT NOT NULL, line INTEGER NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (source, line)
);
"""


@dataclass(frozen=True, slots=True)
class JournaledOutcome:
    """A final outcome read back from the journal."""

    state: int
    error: str | None
    status: int | None
    attempts: int
    after_retry: bool


def fingerprint(sources: Sequence[str], base_url: str) -> str:
    """What identifies a job's input: each file's name, size and first 64 KiB; the API root.

    stdin cannot be read twice, so it is named but not hashed.
    """
    parts: list[Any] = [base_url]
    for name in sources:
        if name in ("-", "<stdin>"):
            parts.append(["<stdin>"])
            continue
        path = Path(name)
        try:
            with path.open("rb") as handle:
                head = hashlib.sha256(handle.read(_FINGERPRINT_BYTES)).hexdigest()
            parts.append([str(path.resolve()), path.stat().st_size, head])
        except OSError:
            parts.append([name])
    return json.dumps(parts)


class Journal:
    """A job's journal. Open with ``Journal.open(path, fingerprint)`` inside a running loop.

    Raises:
        JournalMismatchError: the journal was written for a different input.
        UsageError: the file is not a bulkdel journal.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, resumed: bool) -> None:
        self.path = path
        self._conn = conn
        #: True when the journal already held a job
        self.resumed = resumed
        self._queue: queue.SimpleQueue[tuple[str, Any, Future[Any] | None]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bulkdel-journal", daemon=True)
        self._thread.start()
        self._closed = False

    @classmethod
    def open(cls, path: str | os.PathLike[str], job_fingerprint: str) -> Journal:
        """Open or create the journal at ``path`` for the job with ``job_fingerprint``."""
        path = Path(path)
        exists = path.exists() and path.stat().st_size > 0
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{path} is not a bulkdel journal ({exc})") from None
        if exists and meta:
            if meta.get("schema") != SCHEMA_VERSION:
                conn.close()
                raise UsageError(f"{path}: journal schema {meta.get('schema')} is not supported")
            if meta.get("fingerprint") != job_fingerprint:
                conn.close()
                raise JournalMismatchError(
                    f"{path} belongs to another job: it was written for "
                    f"{_describe(meta.get('fingerprint', ''))}, but this run reads "
                    f"{_describe(job_fingerprint)}. Use a new --journal path for a new input."
                )
            runs = int(meta.get("runs", "0")) + 1
        else:
            runs = 1
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema', ?), ('fingerprint', ?), ('runs', ?)",
                (SCHEMA_VERSION, job_fingerprint, str(runs)),
            )
        os.chmod(path, 0o600)
        return cls(path, conn, resumed=runs > 1)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        conn = self._conn
        while True:
            ops = [self._queue.get()]
            while True:
                try:
                    ops.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = False
            waiters: list[tuple[Future[Any], Any]] = []
            error: BaseException | None = None
            try:
                conn.execute("BEGIN")
                for kind, payload, future in ops:
                    if kind == "stop":
                        stop = True
                        result = None
                    else:
                        result = self._apply(kind, payload)
                    if future is not None:
                        waiters.append((future, result))
                conn.execute("COMMIT")
            except BaseException as exc:  # handed to every waiter; the loop must not die
                error = exc
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            for future, result in waiters:
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)
            if stop:
                conn.close()
                return

    def _apply(self, kind: str, payload: Any) -> Any:
        conn = self._conn
        if kind == "pending":
            conn.executemany("INSERT OR IGNORE INTO ids (id, state) VALUES (?, 0)", payload)
        elif kind == "state":
            state, ids = payload
            conn.executemany(
                f"UPDATE ids SET state = {int(state)} WHERE id = ? AND state NOT IN (1, 2, 3)",
                ((i,) for i in ids),
            )
        elif kind == "missing":
            conn.executemany(
                "UPDATE ids SET state = 2, after_retry = ? WHERE id = ? AND state NOT IN (1,2,3)",
                payload,
            )
        elif kind == "failed":
            conn.executemany(
                "UPDATE ids SET state = 3, error = ?, status = ?, attempts = ? "
                "WHERE id = ? AND state NOT IN (1, 2, 3)",
                payload,
            )
        elif kind == "invalid":
            conn.executemany("INSERT OR IGNORE INTO invalid VALUES (?, ?, ?, ?)", payload)
        elif kind == "duplicate":
            conn.executemany("INSERT OR IGNORE INTO duplicates VALUES (?, ?, ?)", payload)
        elif kind == "lookup":
            return self._lookup(payload)
        elif kind == "meta":
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", payload.items())
        elif kind == "sync":
            return None
        else:  # pragma: no cover - a programming error
            raise ValueError(f"unknown journal operation {kind!r}")
        return None

    def _lookup(self, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            part = ids[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(part))
            rows = self._conn.execute(
                "SELECT id, state, error, status, attempts, after_retry FROM ids "
                f"WHERE id IN ({marks}) AND state != 0",
                part,
            )
            for row in rows:
                found[row[0]] = row[1:]
        return found

    def _submit(self, kind: str, payload: Any, wait: bool = False) -> Future[Any] | None:
        if self._closed:
            raise RuntimeError("the journal is closed")
        future: Future[Any] | None = Future() if wait else None
        self._queue.put((kind, payload, future))
        return future

    # -- the event loop's side -------------------------------------------------------------

    async def lookup(self, ids: list[str]) -> dict[str, JournaledOutcome | int]:
        """States of ``ids`` already past pending: a ``JournaledOutcome`` or ``IN_FLIGHT``."""
        future = self._submit("lookup", ids, wait=True)
        assert future is not None
        rows: dict[str, tuple[Any, ...]] = await asyncio.wrap_future(future)
        result: dict[str, JournaledOutcome | int] = {}
        for file_id, (state, error, status, attempts, after_retry) in rows.items():
            if state in FINAL:
                result[file_id] = JournaledOutcome(
                    state, error, status, attempts, bool(after_retry)
                )
            else:
                result[file_id] = state
        return result

    def add_pending(self, ids: Sequence[str]) -> None:
        """Record newly read unique ids (grouped, not awaited)."""
        self._submit("pending", [(i,) for i in ids])

    async def mark_in_flight(self, ids: Sequence[str]) -> None:
        """Durably mark ``ids`` in flight; returns once committed."""
        future = self._submit("state", (IN_FLIGHT, list(ids)), wait=True)
        assert future is not None
        await asyncio.wrap_future(future)

    def set_meta(self, **values: str) -> None:
        """Record facts about the job (grouped, not awaited)."""
        self._submit("meta", values)

    async def sync(self) -> None:
        """Wait until everything submitted so far is committed."""
        future = self._submit("sync", None, wait=True)
        assert future is not None
        await asyncio.wrap_future(future)

    async def close(self) -> None:
        """Commit what is queued and close (idempotent)."""
        if self._closed:
            return
        future = self._submit("stop", None, wait=True)
        self._closed = True
        assert future is not None
        await asyncio.wrap_future(future)
        self._thread.join()

    # LedgerSink: outcomes, grouped and not awaited.

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        self._submit("invalid", [(source, line, value, reason)])

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        self._submit("duplicate", [(source, line, file_id)])

    def deleted(self, file_ids: Sequence[str]) -> None:
        self._submit("state", (DELETED, list(file_ids)))

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        again = set(after_retry)
        self._submit("missing", [(int(i in again), i) for i in file_ids])

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        if status is None and error == INTERRUPTED_UNKNOWN:
            return  # stays in flight: a resumed run sends it again and learns its fate
        self._submit("failed", [(error, status, attempts, file_id)])

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        """Not attempted ids stay pending (or in flight) in the journal: resume sends them."""


def _describe(job_fingerprint: str) -> str:
    try:
        parts = json.loads(job_fingerprint)
    except ValueError:
        return "an unknown input"
    names = [p[0] for p in parts[1:] if isinstance(p, list) and p]
    return f"{', '.join(names) or 'no files'} at {parts[0] if parts else '?'}"


def read_journal(path: str | os.PathLike[str]) -> Iterator[tuple[str, Any]]:
    """Every record of a closed journal, for rebuilding the report: ("id", row), ("invalid",
    row), ("duplicate", row), ("meta", dict)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such journal")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path} is not a bulkdel journal ({exc})") from None
    try:
        yield "meta", meta
        for row in conn.execute("SELECT source, line, value, reason FROM invalid ORDER BY 1, 2"):
            yield "invalid", row
        for row in conn.execute("SELECT source, line, id FROM duplicates ORDER BY 1, 2"):
            yield "duplicate", row
        yield from (
            ("id", row)
            for row in conn.execute(
                "SELECT id, state, error, status, attempts, after_retry FROM ids"
            )
        )
    finally:
        conn.close()
