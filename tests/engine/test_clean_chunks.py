"""Clean chunks (``CleanItems``): a read whose every line is an id gives the ids as one list,
and the ingest takes them without a step per id. What a run reports must be what the
line-by-line path gives, for any mix of clean and unclean lines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings
from bulkdel.dedupe import Deduper
from bulkdel.engine.ingest import Accepted, Ingest
from bulkdel.engine.sources import READ_SIZE, FileReader, open_files
from bulkdel.models import Chunk, CleanItems, Item
from tests.helpers import KEY, hex_ids, read_jsonl, read_lines

BOM = b"\xef\xbb\xbf"


def mixed_file() -> bytes:
    """Several reads' worth of lines: a BOM; reads of clean hex ids, some repeated (within a
    read and across reads); a read of ids of every allowed width and alphabet; and reads
    with CRLF ends, comments, blank, short, long and non-ASCII lines among clean ids."""
    ids = hex_ids(60_000)
    lines: list[bytes] = [i.encode() for i in ids[:30_000]]
    lines[12_000] = lines[11_990]  # a repeat inside a clean read
    lines[25_000] = lines[3]  # a repeat of an earlier read
    lines[28_000] = ids[20_000].upper().encode()  # clean, but not a hex key
    widths = [
        ("aB_-" * 16)[:width].encode() + str(n).encode() for n, width in enumerate(range(15, 60))
    ]
    lines += widths * 300  # clean reads of ids 16 to 61 characters long, repeated
    for n, file_id in enumerate(ids[30_000:]):
        if n % 997 == 1:
            lines.append(b"# a comment")
        elif n % 997 == 2:
            lines.append(b"")
        elif n % 997 == 3:
            lines.append(file_id.encode() + b"\r")
        elif n % 997 == 4:
            lines.append(b"  " + ids[n].encode() + b"  ")  # a repeat, padded
        elif n % 997 == 5:
            lines.append("caf\u00e9-not-an-id-at-all".encode())
        elif n % 997 == 6:
            lines.append(b"short")
        else:
            lines.append(file_id.encode())
    data = BOM + b"\n".join(lines) + b"\n" + ids[0].encode()  # no newline at the end
    assert len(data) > 7 * READ_SIZE
    return data


def chunks_of(path: Path) -> list[Chunk]:
    async def collect() -> list[Chunk]:
        reader = FileReader(str(path))
        reader.open()
        return [chunk async for chunk in reader.chunks()]

    return asyncio.run(collect())


def line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read from now on takes the line-by-line path."""
    monkeypatch.setattr(FileReader, "_fast_lines", lambda self, body: None)


def items_of(chunks: Iterable[Chunk]) -> list[Item]:
    return [item for chunk in chunks for item in chunk.items]


def test_a_mixed_file_reads_as_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same items, lines and problems as the line-by-line path; clean reads (the first,
    after its BOM, among them) come as ``CleanItems``, the others as lists."""
    path = tmp_path / "ids.txt"
    path.write_bytes(mixed_file())
    fast = chunks_of(path)
    kinds = [type(chunk.items) for chunk in fast]
    assert kinds[0] is CleanItems
    assert CleanItems in kinds[1:] and list in kinds
    line_by_line(monkeypatch)
    slow = chunks_of(path)
    assert {type(chunk.items) for chunk in slow} == {list}
    assert items_of(fast) == items_of(slow)


def test_lines_too_short_or_long_in_a_clean_alphabet_are_invalid(tmp_path: Path) -> None:
    """A read in the ids' alphabet with one line of 15 or 65 characters is not clean."""
    good = hex_ids(3)
    for bad in ("a" * 15, "b" * 65):
        path = tmp_path / "ids.txt"
        path.write_text("\n".join([good[0], bad, *good[1:]]) + "\n")
        items = items_of(chunks_of(path))
        assert [(line, value) for line, value, _ in items] == [
            (1, good[0]),
            (2, bad),
            (3, good[1]),
            (4, good[2]),
        ]
        assert [problem is None for _, _, problem in items] == [True, False, True, True]


def dry_run(path: Path, report: Path) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """A dry run of ``path``: its counts, and each repeat's id and line."""
    repeats: list[tuple[str, int]] = []

    class Repeats:
        def invalid(self, source: str, line: int, value: str, reason: str) -> None: ...
        def duplicate(self, file_id: str, source: str, line: int) -> None:
            repeats.append((file_id, line))

        def deleted(self, file_ids: Sequence[str]) -> None: ...
        def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None: ...
        def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None: ...

        def not_attempted(self, file_ids: Iterable[str]) -> None: ...

    deleter = BulkDeleter(
        KEY, settings=Settings(dry_run=True), report_dir=report, sinks=[Repeats()]
    )
    got = asyncio.run(deleter.run(files=open_files([str(path)])))
    return got.counts.as_dict(), repeats


def test_a_dry_run_reports_the_same_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts, invalid lines (with their lines and reasons), repeats (with their lines) and
    the ids not attempted, in order: the same whichever path read the file."""
    path = tmp_path / "ids.txt"
    path.write_bytes(mixed_file())
    fast = dry_run(path, tmp_path / "fast")
    line_by_line(monkeypatch)
    slow = dry_run(path, tmp_path / "slow")
    assert fast == slow
    counts, repeats = fast
    assert counts["duplicate"] == len(repeats) > 300
    assert counts["invalid"] > 50
    for name in ("invalid.jsonl", "duplicates.txt", "not_attempted.txt"):
        assert read_lines(tmp_path / "fast" / name) == read_lines(tmp_path / "slow" / name)
    first = read_jsonl(tmp_path / "fast" / "invalid.jsonl")[0]
    assert (first["line"], first["value"]) == (30_000 + 45 * 300 + 6, "caf\u00e9-not-an-id-at-all")


def accepted_all(chunks: Sequence[Chunk], skip: int = 0) -> list[Accepted]:
    async def accept() -> list[Accepted]:
        ingest = Ingest(Deduper(), skip=skip)
        try:
            return [await ingest.accept(chunk) for chunk in chunks]
        finally:
            await ingest.aclose()

    return asyncio.run(accept())


def as_lists(accepted: Accepted) -> tuple[object, ...]:
    return (
        accepted.source,
        accepted.end,
        accepted.fresh,
        list(accepted.fresh_at),
        accepted.invalid,
        accepted.duplicates,
    )


@pytest.mark.parametrize("skip", [0, 1, 150, 250, 10_000])
def test_the_ingest_takes_clean_items_as_it_takes_their_list(skip: int) -> None:
    """New ids, their places, repeats with their places and lines, and a resumed submit's
    skip: the same for ``CleanItems`` as for the list of the same items."""
    ids = hex_ids(300)
    parts = [ids[:100], ids[100:200] + ids[50:60], ids[200:] + ids[:5], ids[250:260]]
    clean: list[Chunk] = []
    listed: list[Chunk] = []
    line = 3
    for part in parts:
        clean.append(Chunk("ids.txt", CleanItems(line, part)))
        listed.append(Chunk("ids.txt", list(CleanItems(line, part))))
        line += len(part) + 2  # two lines between chunks that are not items
    got = [as_lists(a) for a in accepted_all(clean, skip)]
    assert got == [as_lists(a) for a in accepted_all(listed, skip)]
    if skip == 0:
        duplicates = [placed for a in accepted_all(clean) for placed in a.duplicates]
        assert duplicates[0] == (201, (3 + 100 + 2 + 100, ids[50], None))


def test_clean_items_are_a_sequence_of_items() -> None:
    """Length, iteration, indexing, slicing and equality as the list of the items."""
    ids = hex_ids(4)
    items = CleanItems(7, ids)
    listed: list[Item] = [(7 + n, value, None) for n, value in enumerate(ids)]
    assert len(items) == 4
    assert list(items) == listed
    assert items == listed and items == CleanItems(7, list(ids))
    assert items != CleanItems(8, ids) and items != listed[:3]
    assert items[0] == listed[0] and items[-1] == listed[-1]
    assert items[1:3] == listed[1:3]
    with pytest.raises(IndexError):
        items[4]
    assert (5, ids[1], None) not in items and (8, ids[1], None) in items
