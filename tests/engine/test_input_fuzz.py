"""Hostile input files: each gets a clear one-line message or an invalid.jsonl entry with its
line number, never a traceback, and never a request with a malformed body."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkdel.cli import main
from bulkdel.engine.sources import MAX_LINE, FileReader
from bulkdel.engine.validate import is_valid_id
from bulkdel.errors import InputError
from bulkdel.testing import FakeImageKit
from tests.helpers import KEY, ThreadedServer

GOOD = "0123456789abcdef01234567"


class Recorder(FakeImageKit):
    """The fake server, remembering every delete body it was sent."""

    def __init__(self) -> None:
        super().__init__(KEY)
        self.bodies: list[bytes] = []

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method == "POST":  # not the preflight's listing GET
                self.bodies.append(await request.read())
            return await handler(request)

        self.app.middlewares.append(record)


def run(
    tmp_path: Path,
    content: bytes | None,
    name: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *extra: str,
) -> tuple[int, str, list[bytes], Path]:
    """Run ``bulkdel delete`` in-process on a file holding ``content`` (None: a directory)."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    source = tmp_path / name
    if content is None:
        source.mkdir()
    else:
        source.write_bytes(content)
    report = tmp_path / "report"
    recorder = Recorder()
    threaded = ThreadedServer(recorder)
    with threaded:
        argv = ["delete", str(source), "--base-url", threaded.url, "--report-dir", str(report)]
        code = main([*argv, "--quiet", *extra])
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    for body in recorder.bodies:
        data = json.loads(body)
        assert set(data) == {"fileIds"}
        assert 1 <= len(data["fileIds"]) <= 100
        assert all(isinstance(i, str) and is_valid_id(i) for i in data["fileIds"]), data
    return code, err, recorder.bodies, report


def invalid_entries(report: Path) -> list[dict[str, object]]:
    path = report / "invalid.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_invalid_utf8_is_an_invalid_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line that is not UTF-8 is reported with its line number; the good lines go."""
    content = GOOD.encode() + b"\n\xff\xfe\xfa\n" + b"abc\xc3\n"
    code, _, bodies, report = run(tmp_path, content, "ids.txt", capsys, monkeypatch)
    assert code == 0
    entries = invalid_entries(report)
    assert [(e["line"], e["reason"]) for e in entries] == [
        (2, "not valid UTF-8"),
        (3, "not valid UTF-8"),
    ]
    assert bodies and all(GOOD.encode() in b for b in bodies)


def test_nul_bytes_are_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id with a NUL byte in it is invalid, with its line number, and never sent."""
    content = b"\x00\n" + GOOD.encode() + b"\x00\n" + GOOD.encode() + b"\n"
    code, _, _, report = run(tmp_path, content, "ids.txt", capsys, monkeypatch)
    assert code == 0
    assert [e["line"] for e in invalid_entries(report)] == [1, 2]
    assert all("\\x00" in str(e["reason"]) for e in invalid_entries(report))


def test_ten_megabyte_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10 MB line is one invalid entry (shown shortened); the lines around it are read."""
    content = GOOD.encode() + b"\n" + b"a" * (10 * 1024 * 1024) + b"\n" + b"b" * 24 + b"\n"
    code, _, _, report = run(tmp_path, content, "ids.txt", capsys, monkeypatch)
    assert code == 0
    (entry,) = invalid_entries(report)
    assert entry["line"] == 2
    assert str(MAX_LINE) in str(entry["reason"])
    assert len(str(entry["value"])) < 1000
    summary = json.loads((report / "summary.json").read_text())
    assert summary["counts"]["deleted"] == 2


def test_ten_megabyte_line_without_newline_in_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10 MB last line with no newline, in JSONL: one invalid entry."""
    content = b'{"fileId": "' + GOOD.encode() + b'"}\n{"fileId": "' + b"x" * 10_000_000
    code, _, _, report = run(tmp_path, content, "ids.jsonl", capsys, monkeypatch)
    assert code == 0
    assert [e["line"] for e in invalid_entries(report)] == [2]


def test_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty file is a complete run of nothing: exit 0, no request."""
    code, _, bodies, report = run(tmp_path, b"", "ids.txt", capsys, monkeypatch)
    assert code == 0
    assert bodies == []
    summary = json.loads((report / "summary.json").read_text())
    assert summary["counts"]["read"] == 0 and summary["complete"]


def test_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory given as the source: one line, exit 2, nothing sent."""
    code, err, bodies, _ = run(tmp_path, None, "ids.txt", capsys, monkeypatch)
    assert code == 2
    assert "is a directory" in err and len(err.strip().splitlines()) == 1
    assert bodies == []


def test_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source that does not exist: one line, exit 2."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    assert main(["delete", str(tmp_path / "nope.txt"), "--report-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "Traceback" not in err


def test_csv_without_the_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CSV whose header lacks the column: one line naming the columns and --column; exit 2."""
    content = b"id,name\n" + GOOD.encode() + b",x\n"
    code, err, bodies, _ = run(tmp_path, content, "ids.csv", capsys, monkeypatch)
    assert code == 2
    assert "fileId" in err and "--column" in err and "id, name" in err
    assert bodies == []


def test_csv_short_rows_and_bad_quoting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CSV rows without the column's cell, or with an invalid id, are invalid entries."""
    content = b"name,fileId\nx\n" + b"y," + GOOD.encode() + b'\nz,"a b"\n'
    code, _, _, report = run(tmp_path, content, "ids.csv", capsys, monkeypatch)
    assert code == 0
    assert [e["line"] for e in invalid_entries(report)] == [2, 4]


def test_jsonl_with_non_object_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSONL lines that are not objects, not JSON, or lack the field: entries with lines."""
    lines = [
        b'{"fileId": "' + GOOD.encode() + b'"}',
        b"[1, 2]",
        b'"a string"',
        b"42",
        b"null",
        b"{not json",
        b'{"fileId": 7}',
        b'{"other": "x"}',
        b'{"fileId": "has space"}',
    ]
    code, _, bodies, report = run(tmp_path, b"\n".join(lines), "ids.jsonl", capsys, monkeypatch)
    assert code == 0
    assert [e["line"] for e in invalid_entries(report)] == list(range(2, 10))
    assert len(bodies) == 1


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=st.binary(max_size=400), fmt=st.sampled_from(["lines", "csv", "jsonl"]))
def test_any_bytes_parse_without_raising(tmp_path: Path, content: bytes, fmt: str) -> None:
    """Any bytes in any format: every item is a valid id or has a reason, lines in order."""
    source = tmp_path / "fuzz.bin"
    source.write_bytes(content)
    reader = FileReader(str(source), fmt, "fileId")  # type: ignore[arg-type]
    try:
        reader.open()
    except InputError:
        assert fmt == "csv"  # only a CSV header can be wrong as a whole
        return
    items = []
    try:
        while not reader._eof:
            items.extend(reader._read_items())
    finally:
        reader.close()
    items = [*reader._pending, *items] if reader._pending else items
    lines = [line for line, _, _ in items]
    assert lines == sorted(lines)
    assert all(1 <= n <= content.count(b"\n") + 1 for n in lines)
    for _, value, problem in items:
        # Only an item without a problem is ever sent, and it must be a well-formed id.
        assert is_valid_id(value) if problem is None else problem, (value, problem)
