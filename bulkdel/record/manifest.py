"""The manifest: each file's record, on disk before any request that deletes it is sent.

ImageKit has no trash: once deleted, a file id resolves to nothing, and a report of ids alone
cannot say which files a selector caught. So every record a run reads with the ids (the
listing's File objects as ImageKit returned them, or the objects of a JSONL input) goes to
``manifest.jsonl`` in the report directory, and the chunk holding it reaches the pipeline only
once those lines are written and ``fsync``-ed. A batch is cut from chunks the pipeline has
been given, so no request can delete a file whose record is not durable: a ``kill -9`` at any
moment leaves a manifest that names every file the server may have deleted. With a journal,
the order is manifest, then the journal's in-flight mark, then the request.

One ``write`` + ``fsync`` a chunk (a listing page: up to 1,000 records), in a thread so that
requests in flight go on meanwhile. Measured (``python -m benchmarks.manifest_cost``,
``benchmarks/MANIFEST_RESULTS.md``): a 100,000-file selector run keeps 0.94 of its files/s
with the manifest (the listing is the bound), and the manifest alone writes about 57,000
records a second.

The manifest also knows each listed file's size until its id settles, so the run can say how
many bytes it deleted (memory stays bounded: a record is dropped when its id settles).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .disk import is_full, open_private, write_all

if TYPE_CHECKING:
    from ..models import Chunk

MANIFEST: Final = "manifest.jsonl"
#: what ``summary.json`` says when the input held ids only
IDS_ONLY: Final = (
    "ids only: the input held no file records, so the report cannot say which files "
    "(paths, URLs, sizes) were deleted; give a JSONL of listing records "
    "(bulkdel list --jsonl) or delete by selector to keep them"
)


def _size(record: dict[str, Any]) -> int | None:
    size = record.get("size")
    if isinstance(size, int | float) and not isinstance(size, bool):
        return int(size)
    return None


class Manifest:
    """``manifest.jsonl`` of one run, and a ledger sink that counts the bytes deleted.

    Args:
        directory: the report directory.
        append: keep the records already there (a resumed journal: the earlier runs' files
            are in it); otherwise the file starts empty.
    """

    def __init__(self, directory: str | os.PathLike[str], *, append: bool = False) -> None:
        self.path = Path(directory) / MANIFEST
        self._append = append
        #: opened at the first record (a run of bare ids writes no manifest)
        self._fd = -1
        #: records written, and the bytes of the ids deleted whose records had a size
        self.records = 0
        self.bytes_deleted = 0
        #: ids deleted whose size the manifest knew
        self.sized_deleted = 0
        #: sizes of the recorded ids not settled yet
        self._sizes: dict[str, int] = {}

    def open(self) -> None:
        """Create (or, appending, reopen) the file now; ``write`` does it when needed."""
        if self._fd >= 0:
            return
        append = self._append
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
        self._fd = open_private(self.path, flags)
        if append:
            self._end_torn_line()

    def _end_torn_line(self) -> None:
        """A run killed mid-write may have left half a line: start on a fresh one."""
        size = os.fstat(self._fd).st_size
        if size:
            with self.path.open("rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    write_all(self._fd, b"\n")

    async def write(self, records: Sequence[dict[str, Any]]) -> None:
        """Append ``records`` and fsync them (in a thread); returns once they are durable."""
        if not records:
            return
        lines = []
        sizes = self._sizes
        for record in records:
            lines.append(json.dumps(record, ensure_ascii=True, separators=(",", ":")))
            file_id, size = record.get("fileId"), _size(record)
            if isinstance(file_id, str) and size is not None:
                sizes[file_id] = size
        data = ("\n".join(lines) + "\n").encode()
        self.open()
        await asyncio.to_thread(self._write_durably, data)
        self.records += len(records)

    def _write_durably(self, data: bytes) -> None:
        write_all(self._fd, data)
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file (every record is already durable)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def as_dict(self, *, listed: bool) -> dict[str, Any]:
        """``summary.json``'s ``manifest`` section; ``listed``: the run read a listing (its
        manifest holds every file listed, maybe none)."""
        if self.records == 0 and not listed:
            return {"file": None, "records": 0, "note": IDS_ONLY}
        return {"file": MANIFEST, "records": self.records, "note": None}

    @property
    def bytes_known(self) -> int | None:
        """The bytes deleted, None when no deleted id had a size on record."""
        return self.bytes_deleted if self.sized_deleted else None

    # -- ledger sink: the bytes deleted -----------------------------------------------------

    def deleted(self, file_ids: Sequence[str]) -> None:
        """Count their bytes."""
        if not self._sizes:  # a run of bare ids: no size to look up, per id or at all
            return
        pop = self._sizes.pop
        for file_id in file_ids:
            size = pop(file_id, None)
            if size is not None:
                self.bytes_deleted += size
                self.sized_deleted += 1

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        """Settled: forget their sizes."""
        self._forget(file_ids)

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        """Settled: forget its size."""
        self._sizes.pop(file_id, None)

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        """Settled: forget their sizes."""
        self._forget(file_ids)

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        """Never sent: forget its size."""
        self._sizes.pop(value, None)

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        """The first one's size stays until it settles."""

    def _forget(self, file_ids: Iterable[str]) -> None:
        if not self._sizes:
            return
        pop = self._sizes.pop
        for file_id in file_ids:
            pop(file_id, None)


async def recorded(
    chunks: AsyncIterable[Chunk],
    manifest: Manifest,
    full: Callable[[OSError], object] | None = None,
) -> AsyncIterator[Chunk]:
    """``chunks`` as they come, each one after its records are durable in ``manifest``.

    A full disk (with ``full``, which stops the run) ends the chunks there: the chunk
    whose records could not be written is never sent, so no deletion goes unrecorded.
    """
    async for chunk in chunks:
        if chunk.records:
            try:
                await manifest.write(chunk.records)
            except OSError as exc:
                if full is None or not is_full(exc):
                    raise
                full(exc)
                return
        yield chunk


def manifest_lines(records: Sequence[dict[str, Any]]) -> str:
    """``records`` as the manifest's JSON lines."""
    return "".join(
        json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n" for record in records
    )


def read_manifest(path: str | os.PathLike[str]) -> Iterable[dict[str, Any]]:
    """The records of a manifest (or any JSONL of records); a torn or foreign line is
    skipped."""
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record: Any = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("fileId"), str):
                yield record
