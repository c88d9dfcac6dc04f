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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from .errors import UsageError

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
_FLUSH_BYTES: Final = 64 * 1024
#: seconds between flushes of the lists, whatever their size
_FLUSH_EVERY: Final = 1.0


class _LineFile:
    """An append-only file written in whole lines."""

    __slots__ = ("_buffer", "_fd", "_size")

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        # fresh: created exclusively, so that two runs can never share a list
        start = os.O_EXCL if fresh else os.O_TRUNC
        self._fd = open_private(path, os.O_WRONLY | os.O_CREAT | start | os.O_APPEND)
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

    def __init__(self, directory: str | os.PathLike[str], *, fresh: bool = False) -> None:
        """Create the directory (0700) and the lists.

        Args:
            directory: where the report goes.
            fresh: the directory must be new or empty, and the lists are created
                exclusively (a report directory holds one run: a second run given the same
                directory at the same moment is refused, never mixed in); otherwise lists
                already there are replaced (an earlier report of the same job).

        Raises:
            UsageError: the directory or a file in it cannot be created, or (``fresh``) it
                already holds files (naming ``report_dir``); nothing is written.
        """
        self.directory = Path(directory)
        if fresh:
            check_report_dir(self.directory)
        try:
            self._files = self._open(self.directory, fresh)
        except FileExistsError:
            raise UsageError(_taken(self.directory), "report_dir", "journal") from None
        except OSError as exc:
            raise UsageError(
                f"report_dir {str(directory)!r} cannot be written: {exc.strerror or exc}",
                "report_dir",
            ) from None
        self._flushed_at = time.monotonic()

    @staticmethod
    def _open(directory: Path, fresh: bool) -> dict[str, _LineFile]:
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
                files[name] = _LineFile(directory / name, fresh=fresh)
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
