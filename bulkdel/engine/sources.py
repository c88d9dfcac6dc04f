"""Turn files, stdin and Python iterables into a stream of chunks of ``Item`` tuples.

An item is ``(line, value, problem)``: the 1-based line (or position) it came from, the id as
read, and why it is not usable (None when the id passed the id rule). Sources never raise for
a bad line, only for a source that cannot be read at all (``InputError``, raised before any
request is sent where it can be known up front).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import json
import os
import stat
import sys
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence, Sized
from typing import Any, Final, Literal

from ..errors import InputError
from ..models import Chunk, CleanItems, Item
from .async_runs import async_runs
from .validate import ID_PATTERN, id_lengths_only, id_problem

Format = Literal["auto", "lines", "csv", "jsonl"]

#: bytes per read; os.read returns early on pipes, so a slow stdin is never held back
READ_SIZE: Final = 256 * 1024
#: a line longer than this is reported invalid and skipped without being held in memory
MAX_LINE: Final = 1024 * 1024
#: items per chunk from a Python iterable
ITERABLE_CHUNK: Final = 1000
_SHOWN: Final = 100
#: the bytes of a clean id, and the newline between ids
_ID_BYTES: Final = b"\nABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
#: a UTF-8 byte order mark, which may start the first line
_BOM: Final = b"\xef\xbb\xbf"


def detect_format(name: str, fmt: Format) -> Literal["lines", "csv", "jsonl"]:
    """The format of a source: as given, or by extension for ``auto``."""
    if fmt != "auto":
        return fmt
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "lines"


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN else value[:_SHOWN] + "…"


class _LineParser:
    """Parses raw lines of one format into items; keeps the CSV header state."""

    def __init__(self, name: str, fmt: Literal["lines", "csv", "jsonl"], column: str) -> None:
        self.name = name
        self.fmt = fmt
        self.column = column
        self._csv_index: int | None = None
        #: the JSONL objects that gave an id, since ``take_records`` last took them
        self.records: list[dict[str, Any]] = []

    def take_records(self) -> list[dict[str, Any]] | None:
        """The records parsed since the last call (None when there are none)."""
        if not self.records:
            return None
        taken, self.records = self.records, []
        return taken

    def parse(self, line_no: int, raw: bytes, overlong: bool, out: list[Item]) -> None:
        if line_no == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.decode("utf-8", errors="replace").strip()
            out.append((line_no, _shown(value), "not valid UTF-8"))
            return
        text = text.strip()
        if overlong:
            if not (self.fmt == "lines" and text.startswith("#")):
                out.append((line_no, _shown(text), f"line longer than {MAX_LINE} bytes"))
            return
        if self.fmt == "lines":
            if text and not text.startswith("#"):
                out.append((line_no, text, id_problem(text)))
        elif self.fmt == "jsonl":
            if text:
                out.append(self._jsonl(line_no, text))
        elif text:
            self._csv(line_no, text, out)

    def _jsonl(self, line_no: int, text: str) -> Item:
        try:
            data: Any = json.loads(text)
        except ValueError:
            return (line_no, _shown(text), "not valid JSON")
        if not isinstance(data, dict):
            return (line_no, _shown(text), "not a JSON object")
        value = data.get(self.column)
        if not isinstance(value, str):
            return (line_no, _shown(text), f"no string field {self.column!r}")
        value = value.strip()
        problem = id_problem(value)
        if problem is None:
            self.records.append(data)
        return (line_no, value, problem)

    def _csv(self, line_no: int, text: str, out: list[Item]) -> None:
        try:
            row = next(csv.reader([text]))
        except csv.Error as exc:
            out.append((line_no, _shown(text), f"bad CSV: {exc}"))
            return
        if self._csv_index is None:
            names = [name.strip() for name in row]
            if self.column not in names:
                raise InputError(
                    f"{self.name}: CSV header has no column {self.column!r} "
                    f"(columns: {', '.join(names)[:200]}); pass column=NAME",
                    "column=",
                )
            self._csv_index = names.index(self.column)
            return
        if self._csv_index >= len(row):
            out.append((line_no, _shown(text), f"row has no {self.column!r} column"))
            return
        value = row[self._csv_index].strip()
        out.append((line_no, value, id_problem(value)))


class FileReader:
    """Reads one file or stdin in the background, in chunks, with bounded memory.

    Lines are split by hand over ``os.read`` so that a pipe delivers what it has at once and
    a line of any length costs at most ``MAX_LINE`` bytes of memory.
    """

    def __init__(self, path: str, fmt: Format = "auto", column: str = "fileId") -> None:
        self.name = "<stdin>" if path == "-" else path
        self._path = path
        self._fd: int | None = None
        self._parser = _LineParser(self.name, detect_format(self.name, fmt), column)
        self._buffer = b""
        self._overlong = False
        self._line = 0
        self._eof = False
        self._pending: list[Item] = []
        #: bytes read so far, and the file's size when it is a regular file (for progress)
        self.bytes_read = 0
        self.size: int | None = None

    def open(self) -> None:
        """Open the source now so that an unreadable one fails before any request.

        Raises:
            InputError: missing, a directory, unreadable, or a CSV without the column.
        """
        if self._path == "-":
            self._fd = sys.stdin.fileno() if sys.stdin is not None else None
            if self._fd is None:
                raise InputError("stdin is not available; pass a file")
        else:
            try:
                self._fd = os.open(self._path, os.O_RDONLY)
            except FileNotFoundError:
                raise InputError(f"{self._path}: no such file") from None
            except OSError as exc:
                raise InputError(f"{self._path}: cannot open ({exc.strerror})") from None
            mode = os.fstat(self._fd).st_mode
            if stat.S_ISDIR(mode):
                self.close()
                raise InputError(f"{self._path}: is a directory, not a file of ids")
            if stat.S_ISREG(mode):
                self.size = os.fstat(self._fd).st_size
        if self._parser.fmt == "csv":
            # Read up to the header now: a missing column is a usage error, found up front.
            head: list[Item] = []
            while self._parser._csv_index is None and not self._eof:
                head.extend(self._read_items())
            self._pending = head

    def close(self) -> None:
        """Close the file (never stdin)."""
        if self._fd is not None and self._path != "-":
            os.close(self._fd)
        self._fd = None

    def _read_items(self) -> Sequence[Item]:
        assert self._fd is not None
        try:
            data = os.read(self._fd, READ_SIZE)
        except OSError as exc:
            raise InputError(f"{self.name}: read failed ({exc.strerror})") from None
        self.bytes_read += len(data)
        items: list[Item] = []
        parse = self._parser.parse
        if not data:
            self._eof = True
            if self._buffer or self._overlong:
                self._line += 1
                parse(self._line, self._buffer, self._overlong, items)
                self._buffer, self._overlong = b"", False
            return items
        if self._buffer:
            data = self._buffer + data
        end = data.rfind(b"\n")
        if end < 0:
            self._buffer = data
            return self._check_overlong(items)
        body, self._buffer = data[:end], data[end + 1 :]
        if self._parser.fmt == "lines" and not self._overlong:
            fast = self._fast_lines(body)
            if fast is not None:
                return self._check_overlong(fast)
        for raw in body.split(b"\n"):
            self._line += 1
            parse(self._line, raw, self._overlong, items)
            self._overlong = False
        return self._check_overlong(items)

    def _check_overlong(self, items: Sequence[Item]) -> Sequence[Item]:
        if len(self._buffer) > MAX_LINE:
            self._buffer = self._buffer[: _SHOWN * 4]
            self._overlong = True
        return items

    def _fast_lines(self, body: bytes) -> Sequence[Item] | None:
        """The lines of ``body`` (whole lines, without the last newline) when most are
        plain ids, decoded in one go; None (nothing done) when it is not valid UTF-8, so
        that the line-by-line path says where."""
        if self._line == 0 and body.startswith(_BOM):
            body = body[len(_BOM) :]  # as ``_LineParser.parse`` does on the slow path
        if not body.translate(None, _ID_BYTES):
            lines = body.decode("ascii").split("\n")
            if id_lengths_only(body, lines):
                # every line is a clean id: no per-line step at all (it was most of the
                # reading), and no tuple per id (``CleanItems``)
                first = self._line + 1
                self._line += len(lines)
                return CleanItems(first, lines)
        else:
            try:
                lines = body.decode("utf-8").split("\n")
            except UnicodeDecodeError:
                return None
        items: list[Item] = []
        clean = ID_PATTERN.fullmatch
        append = items.append
        line = self._line
        for raw in lines:
            line += 1
            if clean(raw):
                append((line, raw, None))
                continue
            value = raw.strip()
            if value and value[0] != "#":
                append((line, value, id_problem(value)))
        self._line = line
        return items

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Yield the source's items chunk by chunk; closes the file at the end."""
        try:
            if self._pending:
                yield Chunk(self.name, self._pending)
                self._pending = []
            while not self._eof:
                if self.size is None:
                    items = await _off_loop(self._read_items)
                else:
                    # A regular file never blocks; parsing in a thread would only fight
                    # the event loop for the GIL.
                    items = self._read_items()
                if items:
                    yield Chunk(self.name, items, self._parser.take_records())
        finally:
            self.close()


async def _off_loop(read: Callable[[], Sequence[Item]]) -> Sequence[Item]:
    """``read()`` in a daemon thread of its own, awaited on the loop.

    A pipe or terminal may block a read for as long as its writer likes; the run must not
    wait for it when it stops. ``asyncio.to_thread`` would: its executor's threads are
    joined when the loop closes, so a second Ctrl-C on an idle stdin waited for input. A
    cancelled await here abandons the read (what it returns is dropped: the run is ending).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Sequence[Item]] = loop.create_future()

    def settle(result: Sequence[Item] | None, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            assert result is not None
            done.set_result(result)

    def work() -> None:
        try:
            result, error = read(), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="bulkdel-stdin", daemon=True).start()
    return await done


async def iterable_chunks(
    ids: Iterable[Any] | AsyncIterable[Any], name: str = "<iterable>"
) -> AsyncIterator[Chunk]:
    """Chunks from a sync or async iterable of ids; the position is the 1-based index."""
    if isinstance(ids, AsyncIterable):
        position = 0
        async for values in async_runs(ids, ITERABLE_CHUNK):
            yield Chunk(name, _items(values, position))
            position += len(values)
        return
    iterator = iter(ids)
    position = 0
    while values := list(itertools.islice(iterator, ITERABLE_CHUNK)):
        yield Chunk(name, _items(values, position))
        position += len(values)
        await asyncio.sleep(0)  # a long sync iterable must not starve the workers


def _items(values: list[Any], before: int) -> list[Item]:
    """``values`` as items numbered from ``before + 1``."""
    # The hot loop of the library API: an id that is already clean costs one regex match.
    clean = ID_PATTERN.fullmatch
    return [
        (n, value, None) if type(value) is str and clean(value) else _iterable_item(n, value)
        for n, value in enumerate(values, before + 1)
    ]


def _iterable_item(position: int, value: Any) -> Item:
    if isinstance(value, str):
        text = value.strip()
        return (position, text, id_problem(text))
    return (position, _shown(repr(value)), "not a string")


def open_files(
    paths: Iterable[str], fmt: Format = "auto", column: str = "fileId"
) -> list[FileReader]:
    """Open every path (``-`` is stdin) up front; raises InputError for the first bad one."""
    readers: list[FileReader] = []
    try:
        for path in paths:
            reader = FileReader(path, fmt, column)
            reader.open()
            readers.append(reader)
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    return readers


async def files_chunks(readers: list[FileReader]) -> AsyncIterator[Chunk]:
    """The chunks of several opened files, one file after the other."""
    for reader in readers:
        async for chunk in reader.chunks():
            yield chunk


#: bytes of one id on a line of its own (24 hex characters and the newline): an input's
#: size over this is the most ids it can hold
ID_LINE_BYTES: Final = 25


def expected_ids(files: Sequence[FileReader], ids: object = None) -> int | None:
    """About how many ids ``files`` and ``ids`` hold: the files' sizes, and the length of
    ``ids`` when it has one (a list); None when nothing tells (a pipe, a generator)."""
    sizes = [reader.size for reader in files]
    if None in sizes:
        return None
    told = sum(size or 0 for size in sizes) // ID_LINE_BYTES
    if isinstance(ids, Sized):
        return told + len(ids)
    return told if sizes else None
