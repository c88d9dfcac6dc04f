"""The report's disk: private files, whole writes, atomic JSON, and a full disk.

A full disk must not lose the record of what a run deleted.

ImageKit has no trash: once the server has deleted an id, the report is the only proof. A
run whose report's file system fills would go on deleting ids it can no longer write down.
So the report writer keeps a **reserve**: a file of ``reserve_bytes`` made when the report
opens (``fallocate``: the space is really taken, not a sparse promise). The first write that
fails for lack of space (``ENOSPC``, ``EDQUOT``) stops the run (no new batch is sent),
gives the reserve back, and writes what was waiting; the requests in flight settle into the
space the reserve freed, then ``summary.json``. What still cannot be written is named in
``summary.json``'s ``unrecorded`` (docs/contract.md, "The report").

Alternatives weighed: checking free space before each write (``statvfs``) races with every
other writer of the disk and costs a syscall a line; pre-allocating the lists themselves
needs their final size, which is unknown until the run ends. A reserve is one file, made
once, and makes the space after the stop a certainty instead of a hope.

A write cut by a full disk never leaves a torn line: the file is truncated back to its last
whole line (``ftruncate`` needs no space) and the unwritten lines stay in memory.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Any, Final

from ..errors import BulkdelError

#: the ``errno`` values that mean "no room": the disk, or the user's quota
FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
#: bytes of a line an outcome may take: a ``failed.jsonl`` line with the server's message
_LINE_BYTES: Final = 320
#: bytes for ``summary.json`` (its ``audit``, ``selection`` and ``unrecorded`` counts)
_SUMMARY_BYTES: Final = 32 * 1024
RESERVE_NAME: Final = ".reserve"


class ReportDiskFullError(BulkdelError):
    """``summary.json`` could not be written: the report's disk is full even after the
    reserve was given back (the message names the directory and what is unrecorded)."""


def reserve_bytes(concurrency: int, batch_size: int, buffered: int) -> int:
    """Room for what can still come once the disk is full: the lines waiting in the
    buffers of the four lists of outcomes, a line for each id in flight, and the summary."""
    return 4 * buffered + concurrency * batch_size * _LINE_BYTES + _SUMMARY_BYTES


def is_full(exc: BaseException) -> bool:
    """True for an ``OSError`` that says the disk or the quota is full."""
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def mount_of(path: Path) -> Path:
    """The mount point of the file system ``path`` is on (to name the disk)."""
    here = Path(os.path.realpath(path))
    while not os.path.ismount(here) and here != here.parent:
        here = here.parent
    return here


def free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer may still use on ``directory``'s file system."""
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def make_reserve(directory: Path, size: int) -> Path | None:
    """Take ``size`` bytes in ``directory`` (None for 0).

    Raises:
        OSError: ``ENOSPC`` when the disk has less room (nothing is left behind).
    """
    if size <= 0:
        return None
    path = directory / RESERVE_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            # a file system without fallocate: write the bytes
            block = bytes(64 * 1024)
            for start in range(0, size, len(block)):
                os.write(fd, block[: min(len(block), size - start)])
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return path


def release(reserve: Path | None) -> None:
    """Give the reserve's space back (idempotent)."""
    if reserve is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(reserve)


class DiskFullError(Exception):
    """A write stopped by a full disk; ``kept`` bytes (whole lines) of it are on disk."""

    def __init__(self, error: OSError, kept: int) -> None:
        super().__init__(error)
        self.error = error
        self.kept = kept


#: ``os.write``, the one call the lists write through (a test injects a full disk here)
_write = os.write


def write_whole_lines(fd: int, data: bytes) -> None:
    """Append ``data`` (whole lines); a full disk leaves only whole lines in the file.

    Raises:
        DiskFullError: with how many bytes of ``data`` are kept.
    """
    start = os.fstat(fd).st_size
    view = memoryview(data)
    done = 0
    try:
        while done < len(data):
            done += _write(fd, view[done:])
    except OSError as exc:
        if not is_full(exc):
            raise
        kept = data.rfind(b"\n", 0, done) + 1
        if kept < done:
            os.ftruncate(fd, start + kept)  # needs no space: never a torn line
        raise DiskFullError(exc, kept) from None


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
