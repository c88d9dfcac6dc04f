"""Write the reconciliation report: id lists as they happen, ``summary.json`` at the end.

Lists are appended whole lines at a time through our own buffer (a write never ends inside a
line, so a killed run leaves only complete lines); ``summary.json`` is written to a temporary
file and renamed, so it is either absent, the old one, or complete. Files are private to the
user (0600 in a 0700 directory): they name what was in the library.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .errors import UsageError
from .ledger import Counts, RequestStats
from .models import Abort, AbortReason

LIST_FILES: Final = (
    "deleted.txt",
    "missing.txt",
    "missing_after_retry.txt",
    "not_attempted.txt",
    "duplicates.txt",
    "failed.jsonl",
    "invalid.jsonl",
)
_FLUSH_BYTES: Final = 64 * 1024
#: seconds between flushes of the lists, whatever their size
_FLUSH_EVERY: Final = 1.0


class _LineFile:
    """An append-only file written in whole lines."""

    __slots__ = ("_buffer", "_fd", "_size")

    def __init__(self, path: Path) -> None:
        self._fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        self._buffer: list[str] = []
        self._size = 0

    def add(self, line: str) -> None:
        self._buffer.append(line)
        self._size += len(line)
        if self._size >= _FLUSH_BYTES:
            self.flush()

    def add_ids(self, ids: Iterable[str]) -> None:
        text = "\n".join(ids)
        if text:
            self.add(text + "\n")

    def flush(self) -> None:
        if self._buffer:
            data = "".join(self._buffer).encode("utf-8", errors="surrogateescape")
            self._buffer.clear()
            self._size = 0
            write_all(self._fd, data)

    def close(self) -> None:
        self.flush()
        os.close(self._fd)


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=True) + "\n"


class ReportWriter:
    """A ledger sink that writes the report files into ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        """Create the directory (0700) and the lists.

        Raises:
            UsageError: the directory or a file in it cannot be created (naming
                ``report_dir``); nothing is written.
        """
        self.directory = Path(directory)
        try:
            self._files = self._open(self.directory)
        except OSError as exc:
            raise UsageError(
                f"report_dir {str(directory)!r} cannot be written: {exc.strerror or exc}",
                "report_dir",
            ) from None
        self._flushed_at = time.monotonic()

    @staticmethod
    def _open(directory: Path) -> dict[str, _LineFile]:
        # A directory we create is private (0700, whatever the umask); one the user already
        # has keeps its mode, and the files in it are 0600 either way.
        with contextlib.suppress(FileExistsError):
            directory.mkdir(parents=True, mode=0o700)
            directory.chmod(0o700)
        # A stale temporary summary from a crashed run must not stay behind.
        with contextlib.suppress(FileNotFoundError):
            (directory / ".summary.json.tmp").unlink()
        files: dict[str, _LineFile] = {}
        try:
            for name in LIST_FILES:
                files[name] = _LineFile(directory / name)
        except BaseException:
            for opened in files.values():
                opened.close()
            raise
        return files

    def _tick(self) -> None:
        """Flush at least once a second, so that a killed run leaves what it had done on
        disk (whole lines) rather than in a buffer."""
        now = time.monotonic()
        if now - self._flushed_at >= _FLUSH_EVERY:
            self._flushed_at = now
            self.flush()

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        self._files["invalid.jsonl"].add(
            _json_line({"source": source, "line": line, "value": value, "reason": reason})
        )

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        self._files["duplicates.txt"].add(file_id + "\n")

    def deleted(self, file_ids: Sequence[str]) -> None:
        self._files["deleted.txt"].add_ids(file_ids)
        self._tick()

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        self._files["missing.txt"].add_ids(file_ids)
        self._files["missing_after_retry.txt"].add_ids(after_retry)
        self._tick()

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        self._files["failed.jsonl"].add(
            _json_line({"fileId": file_id, "error": error, "status": status, "attempts": attempts})
        )
        self._tick()

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        self._files["not_attempted.txt"].add_ids(file_ids)

    def flush(self) -> None:
        """Push buffered lines to disk (at least once a second while outcomes come in, and
        at close)."""
        for handle in self._files.values():
            handle.flush()

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Flush and close the lists, then write ``summary.json`` atomically."""
        for handle in self._files.values():
            handle.close()
        if summary is not None:
            write_json_atomic(self.directory / "summary.json", summary)


def open_private(path: Path, flags: int) -> int:
    """Open for writing with mode 0600, also when the file already existed with a looser mode
    (``O_CREAT`` keeps an existing file's mode); never through a symlink."""
    fd = os.open(path, flags | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until everything is written: it may write less than asked."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` via a private temporary file, fsync and rename.

    ``path`` is either its old content or the new one, never half of it, even when the process
    dies or the disk fills midway; a stale temporary file from a crash is replaced.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        write_all(fd, (json.dumps(data, indent=2) + "\n").encode())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    # The rename itself is durable only once the directory is synced.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True, slots=True)
class Resumed:
    """A run with a journal: which journal, and what earlier runs had done.

    A run fills ``resumed`` and the ``*_earlier`` counts; a report rebuilt from a journal
    fills ``runs`` and ``in_flight_unknown``; what a side does not know is None.
    """

    journal: str
    #: the journal already held a job when this run started
    resumed: bool | None = None
    #: ids an earlier run had settled, and ids it had left in flight
    settled_earlier: int | None = None
    in_flight_earlier: int | None = None
    #: runs recorded in the journal, and ids left in flight (outcome unknown)
    runs: int | None = None
    in_flight_unknown: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``summary.json``'s ``journal``)."""
        return {
            "journal": self.journal,
            "resumed": self.resumed,
            "settled_earlier": self.settled_earlier,
            "in_flight_earlier": self.in_flight_earlier,
            "runs": self.runs,
            "in_flight_unknown": self.in_flight_unknown,
        }


@dataclass(frozen=True)
class Report:
    """The result of a run, as returned by the library and written as ``summary.json``."""

    counts: Counts
    requests: RequestStats
    complete: bool
    #: why the run ended early (typed), or None
    abort: Abort | None
    elapsed_s: float
    report_dir: Path | None = None
    #: nothing was sent on purpose: every unique id is "not attempted"
    dry_run: bool = False
    #: with a journal: which journal, and what earlier runs had settled or left in flight
    resumed: Resumed | None = None
    #: a listing run: the selectors, the query sent and the absolute cutoff they meant
    selection: dict[str, Any] | None = None
    #: CDN purges after the delete: requests sent (they count against a monthly quota)
    purge: dict[str, Any] | None = None
    #: ``manifest.jsonl``: the records written, or a note that the input held ids only
    manifest: dict[str, Any] | None = None
    #: bytes of the deleted files whose records gave a size (None: no record had one)
    bytes_deleted: int | None = None
    #: who ran it, when, where, how, on which account (``bulkdel.audit``)
    audit: dict[str, Any] | None = None

    @property
    def aborted(self) -> str | None:
        """The abort's text, as ``summary.json`` shows it (for people: act on ``abort``)."""
        return None if self.abort is None else str(self.abort)

    @property
    def ids_per_s(self) -> float:
        """Ids settled (deleted, missing or failed) per second of the run."""
        c = self.counts
        return (c.deleted + c.missing + c.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """``summary.json``'s content (docs/contract.md, "The report")."""
        return {
            "version": 1,
            "complete": self.complete,
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "counts": self.counts.as_dict(),
            "requests": self.requests.as_dict(),
            "elapsed_s": round(self.elapsed_s, 3),
            "ids_per_s": round(self.ids_per_s, 1),
            **({"journal": self.resumed.as_dict()} if self.resumed is not None else {}),
            **({"selection": self.selection} if self.selection is not None else {}),
            **({"purge": self.purge} if self.purge is not None else {}),
            **({"manifest": self.manifest} if self.manifest is not None else {}),
            **({"bytes_deleted": self.bytes_deleted} if self.manifest is not None else {}),
            **({"audit": self.audit} if self.audit is not None else {}),
        }

    @property
    def exit_code(self) -> int:
        """The exit code for this outcome (docs/contract.md, "Exit codes"): the abort's
        (``EXIT_CODES``) when it sets one, else 1 when any id failed or was not attempted (a
        dry run that ran through: 0)."""
        if self.abort is not None and self.abort.exit_code is not None:
            return self.abort.exit_code
        c = self.counts
        if self.dry_run and self.abort is None:
            return 0
        return 1 if c.failed or c.not_attempted else 0


def format_text(report: Report) -> str:
    """The short human summary printed on stderr."""
    c = report.counts
    rows = [
        ("read", c.read),
        ("invalid", c.invalid),
        ("duplicate", c.duplicate),
        ("unique", c.unique),
        ("deleted", c.deleted),
        ("missing", c.missing),
        ("  after retry", c.missing_after_retry),
        ("failed", c.failed),
        ("not attempted", c.not_attempted),
    ]
    width = max(len(f"{n:,}") for _, n in rows)
    lines = [f"  {name:<14}{n:>{width},}" for name, n in rows]
    r = report.requests
    lines.insert(0, _head(report))
    lines.append(
        f"  {r.sent:,} requests ({r.retried:,} retried) in {report.elapsed_s:.1f}s, "
        f"{report.ids_per_s:,.0f} ids/s"
    )
    if report.purge is not None:
        p = report.purge
        lines.append(
            f"  CDN purge ({p['mode']}): {p['requests']:,} requests, {p['completed']:,} "
            f"completed, {p['pending']:,} pending, {p['failed']:,} failed"
            + (f"; refused: {p['refused']}" if p.get("refused") else "")
        )
    lines.extend(_manifest_lines(report))
    if report.report_dir is not None:
        where = report.report_dir
        lines.append(f"  report: {where}")
        if c.failed:
            lines.append(f"  failures: {where / 'failed.jsonl'}")
        if c.invalid:
            lines.append(f"  invalid input: {where / 'invalid.jsonl'}")
        if c.not_attempted:
            lines.append(f"  not attempted: {where / 'not_attempted.txt'}")
    return "\n".join(lines)


def _head(report: Report) -> str:
    """The summary's first line: what the run amounted to, in a word a user can act on."""
    r = report.requests
    reason = report.abort.reason if report.abort is not None else None
    if r.never_connected:
        head = f"bulkdel: NO CONNECTION — none of {r.sent:,} requests connected"
        head += f" ({r.connect_error})" if r.connect_error else ""
        return head if reason in (None, AbortReason.UNREACHABLE) else f"{head} — {report.aborted}"
    if reason is AbortReason.NO_VALID_ID:
        return f"bulkdel: NO VALID ID — {report.abort.detail if report.abort else ''}; nothing sent"
    if report.dry_run:
        head = "bulkdel: dry run — nothing sent"
    else:
        head = "bulkdel: " + ("complete" if report.complete else "INCOMPLETE")
    return head + (f" — aborted: {report.aborted}" if report.aborted else "")


def _manifest_lines(report: Report) -> list[str]:
    """What the report knows of the files, beyond their ids."""
    manifest = report.manifest
    if manifest is None or report.report_dir is None:
        return []
    if manifest.get("note"):
        return [f"  {manifest['note']}"]
    sized = "" if report.bytes_deleted is None else f", {report.bytes_deleted:,} bytes deleted"
    return [
        f"  manifest: {report.report_dir / manifest['file']} ({manifest['records']:,} file "
        f"records{sized})"
    ]
