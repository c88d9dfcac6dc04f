"""The durable record of a job: SQLite on local disk, written from one background thread.

What is kept, and why it is enough:
* one row per batch of deleted ids, and one row per id that ended missing or failed,
  written when they do; ids a run read but never sent are added as pending when it ends;
* one row per batch **in flight**, committed when a worker takes the batch, before its
  request is sent, and removed once every id of the batch is settled or handed back for a
  later batch; after a crash, any id still in flight may have been deleted without us
  hearing of it, so resume sends it again and a 404 then means "deleted by the earlier
  run", and ``bulkdel report`` calls it failed, "outcome unknown" (the run's own label);
  batches still queued are not marked, so "in flight" means "may have been sent" (marking
  at queue time, to overlap the commit with requests ahead, cost nothing measurable less
  and made after a crash up to 2 x concurrency + 2 unsent batches look sent);
* the invalid lines and repeats seen, keyed by where they were read.

Writes are grouped (``writer``): the thread commits whatever queued up in one
transaction (WAL, ``synchronous=NORMAL``: a commit is a write(2), safe against a killed
process; only an OS crash can lose the last few), so the event loop only waits for the
in-flight mark. A fresh job asks the journal nothing while it runs; only a resumed one looks
up, chunk by chunk, which ids are already settled. ``kill -9`` loses at most outcomes not yet
committed, all of them of batches still marked in flight, which resume recovers.

States: 0 pending (read, never sent), 1 deleted, 2 missing, 3 failed; 4 (in flight) is what
``read_journal`` reports for the ids of batches still marked in flight.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ...errors import JournalMismatchError, UsageError
from ...models import Abort
from .schema import (
    DELETED,
    FAILED,
    IN_FLIGHT,
    MISSING,
    PENDING,
    SCHEMA,
    SCHEMA_VERSION,
    JournaledOutcome,
    Lookup,
    describe,
    fingerprint,
    read_journal,
)
from .writer import Writer

__all__ = [
    "DELETED",
    "FAILED",
    "IN_FLIGHT",
    "MISSING",
    "PENDING",
    "Journal",
    "JournaledOutcome",
    "fingerprint",
    "owns_report_dir",
    "read_journal",
]


def owns_report_dir(
    journal_path: str | os.PathLike[str] | None, report_dir: str | os.PathLike[str]
) -> bool:
    """True when ``report_dir`` holds an earlier report of the job of the journal at
    ``journal_path``: the journal's runs wrote it (recorded at open, so also after a
    ``kill -9``), or its ``summary.json`` was rebuilt from that journal. Such a directory
    may be reused by that job (docs/contract.md, "The report"); any other is not."""
    if journal_path is None or not Path(journal_path).is_file():
        return False
    where = os.path.realpath(report_dir)
    try:
        conn = sqlite3.connect(f"file:{Path(journal_path).resolve()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'report_dir'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    if row is not None and row[0] == where:
        return True
    try:
        summary = json.loads((Path(report_dir) / "summary.json").read_text(encoding="utf-8"))
        rebuilt_from = summary["journal"]["journal"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return isinstance(rebuilt_from, str) and os.path.realpath(rebuilt_from) == os.path.realpath(
        journal_path
    )


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
        self._next_batch = int(
            conn.execute("SELECT coalesce(max(batch), 0) FROM in_flight").fetchone()[0]
        )
        self._lookup = Lookup(conn)
        self._writer = Writer(conn, self._apply, self._lookup.reset)
        self._closed = False
        #: ids whose outcome is unknown when the run stopped: they stay in flight
        self._kept_in_flight: set[str] = set()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        job_fingerprint: str,
        report_dir: str | os.PathLike[str] | None = None,
    ) -> Journal:
        """Open or create the journal at ``path`` for the job with ``job_fingerprint``;
        ``report_dir`` is recorded as the job's report directory (``owns_report_dir``)."""
        path = Path(path)
        exists = path.exists() and path.stat().st_size > 0
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
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
                    f"{describe(meta.get('fingerprint', ''))}, but this run reads "
                    f"{describe(job_fingerprint)}. Use a new journal path for a new input."
                )
            runs = int(meta.get("runs", "0")) + 1
        else:
            runs = 1
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema', ?), ('fingerprint', ?), ('runs', ?)",
                (SCHEMA_VERSION, job_fingerprint, str(runs)),
            )
            if report_dir is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('report_dir', ?)",
                    (os.path.realpath(report_dir),),
                )
        os.chmod(path, 0o600)
        return cls(path, conn, resumed=runs > 1)

    def _apply(self, kind: str, payload: Any) -> Any:
        """One operation of a kind the writer does not merge (it runs on its thread)."""
        conn = self._conn
        # A final outcome is never overwritten: only a pending row (or none) takes one.
        if kind == "pending":
            conn.executemany("INSERT OR IGNORE INTO ids (id, state) VALUES (?, 0)", payload)
        elif kind == "missing":
            conn.executemany(
                "INSERT INTO ids (id, state, after_retry) VALUES (?, 2, ?) "
                "ON CONFLICT (id) DO UPDATE SET state = 2, after_retry = excluded.after_retry "
                "WHERE state = 0",
                payload,
            )
        elif kind == "failed":
            conn.executemany(
                "INSERT INTO ids (id, state, error, status, attempts) VALUES (?, 3, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET state = 3, error = excluded.error, "
                "status = excluded.status, attempts = excluded.attempts WHERE state = 0",
                payload,
            )
        elif kind == "invalid":
            conn.executemany("INSERT OR IGNORE INTO invalid VALUES (?, ?, ?, ?)", payload)
        elif kind == "duplicate":
            conn.executemany("INSERT OR IGNORE INTO duplicates VALUES (?, ?, ?)", payload)
        elif kind == "lookup":
            return self._lookup.lookup(payload)
        elif kind == "meta":
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", payload.items())
        elif kind == "sync":
            return None
        else:  # pragma: no cover - a programming error
            raise ValueError(f"unknown journal operation {kind!r}")
        return None

    def _submit(self, kind: str, payload: Any, wait: bool = False) -> asyncio.Future[Any] | None:
        if self._closed:
            raise RuntimeError("the journal is closed")
        return self._writer.submit(kind, payload, wait)

    # -- the event loop's side -------------------------------------------------------------

    async def lookup(self, ids: list[str]) -> dict[str, JournaledOutcome | int]:
        """What the journal knows of ``ids``: a ``JournaledOutcome`` for settled ones,
        ``IN_FLIGHT`` for ids of batches still marked in flight; absent ids are new or
        pending. (A fresh job need not ask: see ``resumed``.)"""
        future = self._submit("lookup", ids, wait=True)
        assert future is not None
        found: dict[str, JournaledOutcome | int] = await future
        return found

    def add_pending(self, ids: Sequence[str]) -> None:
        """Record ids as read and not yet settled (grouped, not awaited)."""
        self._submit("pending", [(i,) for i in ids])

    async def mark_in_flight(self, ids: Sequence[str]) -> int:
        """Durably mark ``ids`` in flight; returns, once committed, the batch's token for
        ``landed``."""
        token, committed = self.mark_in_flight_soon(ids)
        await committed
        return token

    def mark_in_flight_soon(self, ids: Sequence[str]) -> tuple[int, asyncio.Future[Any]]:
        """Queue the in-flight mark of ``ids``; returns the batch's token for ``landed`` and
        a future done once the mark is committed (marking a batch as it is queued lets the
        commit overlap the requests ahead of it)."""
        self._next_batch += 1
        token = self._next_batch
        future = self._submit("in_flight", (token, ",".join(ids)), wait=True)
        assert future is not None
        return token, future

    def landed(self, token: int) -> None:
        """Every id of the batch is settled or handed back for later (grouped, not awaited;
        queued after those outcomes, so never committed before them)."""
        self._submit("landed", token)

    def set_meta(self, **values: str) -> None:
        """Record facts about the job (grouped, not awaited)."""
        self._submit("meta", values)

    def set_abort(self, abort: Abort | None) -> None:
        """Record why the run ended early: its text, and its typed reason and detail, so that
        a report rebuilt from the journal has the same ``abort`` (grouped, not awaited)."""
        self.set_meta(
            aborted="" if abort is None else str(abort),
            abort_reason="" if abort is None else abort.reason.value,
            abort_detail="" if abort is None else abort.detail,
        )

    async def sync(self) -> None:
        """Wait until everything submitted so far is committed."""
        future = self._submit("sync", None, wait=True)
        assert future is not None
        await future

    async def close(self) -> None:
        """Commit what is queued and close (idempotent)."""
        if self._closed:
            return
        future = self._submit("stop", None, wait=True)
        self._closed = True
        assert future is not None
        await future
        self._writer.join()

    # LedgerSink: outcomes, grouped and not awaited.

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        self._submit("invalid", [(source, line, value, reason)])

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        self._submit("duplicate", [(source, line, file_id)])

    def deleted(self, file_ids: Sequence[str]) -> None:
        if file_ids:
            self._submit("deleted", ",".join(file_ids))

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        again = set(after_retry)
        self._submit("missing", [(i, int(i in again)) for i in file_ids])

    def keep_in_flight(self, ids: Iterable[str]) -> None:
        """The run stopped before an answer said what became of ``ids``: their ``failed``
        events are not recorded, so they stay in flight and a resumed run sends them again
        and learns their fate."""
        self._kept_in_flight.update(ids)

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        if file_id in self._kept_in_flight:
            return  # stays in flight (see keep_in_flight)
        self._submit("failed", [(file_id, error, status, attempts)])

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        """Recorded as pending, so that the report rebuilt from the journal names them; a
        resumed run sends them."""
        self.add_pending(list(file_ids))
