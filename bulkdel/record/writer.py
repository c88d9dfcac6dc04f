"""Write the reconciliation report's files: id lists as they happen, ``summary.json`` at the end.

Lists are appended whole lines at a time through our own buffer (a write never ends inside a
line, so a killed run leaves only complete lines); ``summary.json`` is written to a temporary
file and renamed, so it is either absent, the old one, or complete. Files are private to the
user (0600 in a 0700 directory): they name what was in the library. A report directory holds
one run (``check_report_dir``).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from ..errors import UsageError
from ..models import Abort, AbortReason
from .disk import (
    DiskFullError,
    ReportDiskFullError,
    free_bytes,
    is_full,
    make_reserve,
    mount_of,
    open_private,
    release,
    reserve_bytes,
    write_json_atomic,
    write_whole_lines,
)

LIST_FILES: Final = (
    "deleted.txt",
    "missing.txt",
    "missing_after_retry.txt",
    "not_attempted.txt",
    "duplicates.txt",
    "failed.jsonl",
    "invalid.jsonl",
)
#: every file a run (or ``verify``, ``purge``) writes into a report directory
REPORT_FILES: Final = (*LIST_FILES, "summary.json", "manifest.jsonl", "purge.json", "verify.json")
#: bytes a list buffers before it writes (the reserve holds four lists' worth)
_FLUSH_BYTES: Final = 16 * 1024
#: the lists of outcomes of requests sent: written first when space is short
#: bytes a file may take beyond its data (a file system's block)
_SLACK: Final = 8 * 1024
_OUTCOMES: Final = ("deleted.txt", "missing.txt", "missing_after_retry.txt", "failed.jsonl")
#: seconds between flushes of the lists, whatever their size
_FLUSH_EVERY: Final = 1.0


def _never_room(error: OSError) -> bool:
    raise error


class _LineFile:
    """An append-only file written in whole lines.

    Args:
        path: the file.
        fresh: create it exclusively (two runs can never share a list), else replace it.
        full: called when the disk is full (the unwritten lines are kept); returns True
            when it made room, and the write is tried once more.
    """

    __slots__ = ("_buffer", "_fd", "_full", "_size", "held")

    def __init__(
        self, path: Path, *, fresh: bool = False, full: Callable[[OSError], bool] = _never_room
    ) -> None:
        start = os.O_EXCL if fresh else os.O_TRUNC
        self._fd = open_private(path, os.O_WRONLY | os.O_CREAT | start | os.O_APPEND)
        self._buffer: list[str] = []
        self._size = 0
        self._full = full
        #: lines stay in memory until ``flush`` is called (the disk filled: the room left
        #: is for the outcomes of requests sent and the summary first)
        self.held = False

    def add(self, line: str) -> None:
        self._buffer.append(line)
        self._size += len(line)
        if self._size >= _FLUSH_BYTES and not self.held:
            self.flush()

    def add_ids(self, ids: Iterable[str]) -> None:
        text = "\n".join(ids)
        if text:
            self.add(text + "\n")

    def flush(self) -> None:
        if not self._buffer:
            return
        data = "".join(self._buffer).encode("utf-8", errors="surrogateescape")
        self._buffer.clear()
        self._size = 0
        try:
            write_whole_lines(self._fd, data)
        except DiskFullError as full:
            rest = data[full.kept :].decode("utf-8", errors="surrogateescape")
            self._buffer.append(rest)
            self._size = len(rest)
            if self._full(full.error):
                self.flush()

    def pending(self) -> int:
        """Bytes (about) waiting to be written."""
        return self._size

    def unwritten(self) -> list[str]:
        """The lines the disk had no room for."""
        return "".join(self._buffer).splitlines()

    def close(self) -> None:
        if not self.held:
            self.flush()
        os.close(self._fd)


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=True) + "\n"


def reserve_for(concurrency: int, batch_size: int) -> int:
    """The reserve a run with these settings keeps (``bulkdel.record.disk``)."""
    return reserve_bytes(concurrency, batch_size, _FLUSH_BYTES)


class ReportWriter:
    """A ledger sink that writes the report files into ``directory``.

    Args:
        directory: where the report goes.
        fresh: the directory must be new or empty, and the lists are created exclusively (a
            report directory holds one run: a second run given the same directory at the
            same moment is refused, never mixed in); otherwise lists already there are
            replaced (an earlier report of the same job).
        reserve: bytes kept free for the end of the run (``bulkdel.record.disk``); 0: none.
        on_full: called once, with a ``DISK_FULL`` abort, when the disk fills (the run
            stops sending); ``full`` holds it afterwards.

    Raises:
        UsageError: the directory or a file in it cannot be created, the disk has no room
            for the reserve, or (``fresh``) it already holds files (naming ``report_dir``).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fresh: bool = False,
        reserve: int = 0,
        on_full: Callable[[Abort], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        #: why the run stopped for lack of space, once it did
        self.full: Abort | None = None
        self._on_full = on_full
        if fresh:
            check_report_dir(self.directory)
        try:
            self._mkdir(self.directory)
            self._reserve = make_reserve(self.directory, reserve)
            self._files = self._open(self.directory, fresh, self.disk_full)
        except FileExistsError:
            raise UsageError(_taken(self.directory), "report_dir", "journal") from None
        except OSError as exc:
            room = f"its disk ({mount_of(self.directory)}) has less than the {reserve:,} "
            room += "bytes the report keeps in reserve; free space or give another report_dir"
            raise UsageError(
                f"report_dir {str(directory)!r} cannot be written: "
                + (room if is_full(exc) else str(exc.strerror or exc)),
                "report_dir",
            ) from None
        self._flushed_at = time.monotonic()

    @staticmethod
    def _mkdir(directory: Path) -> None:
        # A directory we create is private (0700, whatever the umask); one the user already
        # has keeps its mode, and the files in it are 0600 either way.
        with contextlib.suppress(FileExistsError):
            directory.mkdir(parents=True, mode=0o700)
            directory.chmod(0o700)
        # A stale temporary summary from a crashed run must not stay behind.
        with contextlib.suppress(FileNotFoundError):
            (directory / ".summary.json.tmp").unlink()

    @staticmethod
    def _open(
        directory: Path, fresh: bool, full: Callable[[OSError], bool]
    ) -> dict[str, _LineFile]:
        files: dict[str, _LineFile] = {}
        try:
            for name in LIST_FILES:
                files[name] = _LineFile(directory / name, fresh=fresh, full=full)
        except BaseException:
            for opened in files.values():
                opened.close()
            raise
        return files

    def disk_full(self, error: OSError) -> bool:
        """The disk filled: stop the run (once) and give the reserve back; True when that
        made room (the write is tried again)."""
        if self.full is not None:
            return False
        where = mount_of(self.directory)
        self.full = Abort(
            AbortReason.DISK_FULL,
            f"no space left for the report in {self.directory} (the file system at {where}: "
            f"{error.strerror}); sending stopped, summary.json's unrecorded names any outcome "
            "not written",
        )
        for name in LIST_FILES:
            self._files[name].held = name not in _OUTCOMES
        had_reserve = self._reserve is not None
        release(self._reserve)
        self._reserve = None
        if self._on_full is not None:
            self._on_full(self.full)
        return had_reserve

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
        at close); the outcomes of requests first."""
        for name in (*_OUTCOMES, *(n for n in LIST_FILES if n not in _OUTCOMES)):
            self._files[name].flush()

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Flush and close the lists, then write ``summary.json`` atomically (with an
        ``unrecorded`` section when the disk filled).

        Raises:
            ReportDiskFullError: the disk had no room for ``summary.json``.
        """
        release(self._reserve)
        self._reserve = None
        for name in _OUTCOMES:
            self._files[name].flush()
        if summary is not None and self.full is not None:
            # what the disk has room for once the summary is written, for the lists of ids
            # never sent (they cannot push the summary out)
            room = free_bytes(self.directory) - 2 * len(json.dumps(summary)) - 4 * _SLACK
        else:
            room = None
        for name in LIST_FILES:
            handle = self._files[name]
            if name not in _OUTCOMES and (room is None or handle.pending() < room):
                room = None if room is None else room - handle.pending() - _SLACK
                handle.flush()
        unrecorded = self._unrecorded()
        for handle in self._files.values():
            handle.close()
        if summary is None:
            return
        if self.full is not None:
            summary = {**summary, "unrecorded": unrecorded}
        try:
            write_json_atomic(self.directory / "summary.json", summary)
        except OSError as exc:
            if not is_full(exc):
                raise
            lost = sum(len(v) for k, v in unrecorded.items() if k in _OUTCOMES)
            raise ReportDiskFullError(
                f"disk full: no space left for {self.directory / 'summary.json'} (the file "
                f"system at {mount_of(self.directory)}); the lists hold every outcome "
                f"written, {lost:,} outcomes could not be written"
            ) from None

    def _unrecorded(self) -> dict[str, Any]:
        """What the lists could not hold: the lines of the outcomes of requests sent (ids;
        ``failed.jsonl``'s records), and how many lines of the others."""
        found: dict[str, Any] = {}
        for name in LIST_FILES:
            lines = self._files[name].unwritten()
            if name not in _OUTCOMES:
                found[name] = len(lines)
            elif name.endswith(".jsonl"):
                found[name] = [json.loads(line) for line in lines]
            else:
                found[name] = lines
        return found


def check_report_dir(
    directory: str | os.PathLike[str], *, reuse: bool = False, inputs: Iterable[str] = ()
) -> None:
    """Refuse a report directory that would destroy a record: one that holds another run's
    report, or one of whose report files is an input of this run (the report replaces it
    before it is read).

    Args:
        directory: the report directory asked for.
        reuse: it may hold an earlier report of this same job (a journal resumed, or its
            report rebuilt), which is replaced; its inputs are still checked.
        inputs: the paths this run reads.

    Raises:
        UsageError: naming ``report_dir``; nothing is written.
    """
    path = Path(directory)
    if str(directory) in ("", "."):
        raise UsageError(
            "report_dir is empty or '.' (an unset variable?): a report directory holds one "
            "run; name a new directory, or leave the option out for a new one",
            "report_dir",
        )
    with contextlib.suppress(OSError):
        here = path.resolve()
        for name in inputs:
            source = Path(name)
            inside = name not in ("-", "<stdin>") and source.resolve().parent == here
            if inside and source.name in REPORT_FILES:
                raise UsageError(
                    f"{name!r} is a file of report_dir {str(directory)!r}, which this "
                    "run's report replaces before it is read: copy it elsewhere first, "
                    "or give another report_dir",
                    "report_dir",
                )
    if not reuse and path.is_dir() and any(path.iterdir()):
        raise UsageError(_taken(path), "report_dir", "journal")


def _taken(path: Path) -> str:
    held = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
    return (
        f"report_dir {str(path)!r} is not empty ({shown}): a report directory holds one run; "
        "give a new or empty one (a run resumed with its journal may reuse its own)"
    )
