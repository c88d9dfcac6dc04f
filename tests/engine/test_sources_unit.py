"""File sources read in-process: the fast path of big files, odd files, and stdin."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from bulkdel.engine.sources import MAX_LINE, READ_SIZE, FileReader, expected_ids, open_files
from bulkdel.errors import InputError
from bulkdel.models import Item
from tests.helpers import hex_ids


def read_all(reader: FileReader) -> list[Item]:
    async def collect() -> list[Item]:
        return [item async for chunk in reader.chunks() for item in chunk.items]

    return asyncio.run(collect())


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_file_larger_than_one_read_gives_every_line_in_order(tmp_path: Path) -> None:
    """Past the first read (the fast path), clean ids, CRLF ends, comments, blank and bad
    lines keep their line numbers; a line cut by a read boundary is read whole."""
    lines: list[str] = []
    expected: list[Item] = []
    ids = hex_ids(30_000)
    for n, file_id in enumerate(ids):
        if n % 1000 == 7:
            lines.append("# a comment")
        elif n % 1000 == 8:
            lines.append("")
        elif n % 1000 == 9:
            lines.append("not an id!")
            expected.append((len(lines), "not an id!", "bad"))
        elif n % 1000 == 10:
            lines.append(f"  {file_id}\r")
            expected.append((len(lines), file_id, None))
        else:
            lines.append(file_id)
            expected.append((len(lines), file_id, None))
    data = "\n".join(lines) + "\n"
    assert len(data) > 2 * READ_SIZE
    path = tmp_path / "ids.txt"
    path.write_text(data)
    reader = FileReader(str(path))
    reader.open()
    items = read_all(reader)
    assert [(line, value) for line, value, _ in items] == [(n, v) for n, v, _ in expected]
    assert [p is None for _, _, p in items] == [p is None for _, _, p in expected]
    assert reader.bytes_read == reader.size == len(data)


def test_bad_utf8_past_the_first_read_is_located(tmp_path: Path) -> None:
    """Invalid UTF-8 in a later read falls back to line by line and names the right line."""
    ids = hex_ids(20_000)
    raw = [i.encode() for i in ids]
    raw[15_000] = b"\xff\xfe" + raw[15_000]
    path = tmp_path / "ids.txt"
    path.write_bytes(b"\n".join(raw) + b"\n")
    reader = FileReader(str(path))
    reader.open()
    items = read_all(reader)
    bad = [item for item in items if item[2] is not None]
    assert bad == [(15_001, "\ufffd\ufffd" + ids[15_000], "not valid UTF-8")]
    assert len(items) == 20_000


def test_an_overlong_comment_is_skipped_silently(tmp_path: Path) -> None:
    """A '#' line longer than MAX_LINE is a comment, not an invalid line."""
    path = tmp_path / "ids.txt"
    path.write_bytes(
        b"#" + b"c" * (MAX_LINE + 2 * READ_SIZE) + b"\n" + hex_ids(1)[0].encode() + b"\n"
    )
    reader = FileReader(str(path))
    reader.open()
    assert read_all(reader) == [(2, hex_ids(1)[0], None)]


def test_a_csv_field_over_the_csv_module_limit_is_an_invalid_line(tmp_path: Path) -> None:
    """A CSV row whose field is too large for the csv module is reported, not raised."""
    path = tmp_path / "ids.csv"
    path.write_text("fileId\n" + "x" * 200_000 + "\n" + hex_ids(1)[0] + "\n")
    reader = FileReader(str(path))
    reader.open()
    items = read_all(reader)
    assert items[1] == (3, hex_ids(1)[0], None)
    line, _, problem = items[0]
    assert line == 2
    assert problem is not None and problem.startswith("bad CSV: field larger than field limit")


def test_a_symlink_loop_cannot_be_opened(tmp_path: Path) -> None:
    """An unopenable path (a symlink loop) is an InputError naming the path and the reason."""
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(InputError, match="cannot open \\(Too many levels of symbolic links\\)"):
        open_files([str(tmp_path / "a")])


def test_a_device_has_no_size_and_reads_empty() -> None:
    """A character device is read like a pipe: no size for progress, no items."""
    (reader,) = open_files(["/dev/null"])
    assert reader.size is None
    assert read_all(reader) == []


def test_a_later_bad_path_closes_the_files_already_opened(tmp_path: Path) -> None:
    """open_files fails on the first unusable path and leaves no file open behind it."""
    good = tmp_path / "ids.txt"
    good.write_text(hex_ids(1)[0] + "\n")
    before = open_fds()
    with pytest.raises(InputError, match="no such file"):
        open_files([str(good), str(good), str(tmp_path / "missing.txt")])
    assert open_fds() == before


class PipeStdin(io.StringIO):
    """sys.stdin whose file descriptor is ``fd``."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


def test_stdin_is_read_and_left_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """'-' reads the ids piped to stdin and does not close stdin."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, ("\n".join(hex_ids(3)) + "\n").encode())
        os.close(write_end)
        monkeypatch.setattr("sys.stdin", PipeStdin(read_end))
        (reader,) = open_files(["-"])
        assert reader.name == "<stdin>" and reader.size is None
        assert [value for _, value, _ in read_all(reader)] == hex_ids(3)
        os.fstat(read_end)  # still open
    finally:
        os.close(read_end)


def test_stdin_that_cannot_be_read_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stdin that fails to read (opened write-only) gives one InputError, no traceback."""
    read_end, write_end = os.pipe()
    try:
        monkeypatch.setattr("sys.stdin", PipeStdin(write_end))
        (reader,) = open_files(["-"])
        with pytest.raises(InputError, match="<stdin>: read failed \\(Bad file descriptor\\)"):
            read_all(reader)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_no_stdin_at_all_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run without a stdin (sys.stdin is None), '-' is refused with the fix."""
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(InputError, match="stdin is not available; pass a file"):
        open_files(["-"])


def test_expected_ids_tells_what_the_sizes_tell(tmp_path: Path) -> None:
    """Files' sizes over an id's line, plus the length of a list of ids; nothing where one
    input cannot tell (a pipe, a generator)."""
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("a" * 24 + "\n" + "b" * 24 + "\n")
    second.write_text("c" * 24 + "\n")
    readers = [FileReader(str(first)), FileReader(str(second))]
    for reader in readers:
        reader.open()
    try:
        assert expected_ids(readers) == 3
        assert expected_ids(readers, ["x"] * 10) == 13
        assert expected_ids([], ["x"] * 10) == 10
        assert expected_ids([], iter(["x"])) is None
        assert expected_ids([]) is None
        unsized = FileReader(str(first))  # not opened: its size is not known
        assert expected_ids([*readers, unsized], ["x"]) is None
    finally:
        for reader in readers:
            reader.close()
