"""The journal on its own: opening, refusing, recording, looking up and reading back."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bulkdel.errors import JournalMismatchError, UsageError
from bulkdel.models import INTERRUPTED_UNKNOWN
from bulkdel.record.journal.journal import (
    DELETED,
    FAILED,
    IN_FLIGHT,
    MISSING,
    Journal,
    JournaledOutcome,
    fingerprint,
    read_journal,
)
from tests.helpers import hex_ids


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every record of a closed journal, grouped by kind."""
    grouped: dict[str, list[tuple[object, ...]]] = {}
    for kind, row in read_journal(path):
        grouped.setdefault(kind, []).append(tuple(row.items()) if kind == "meta" else row)
    return grouped


async def test_outcomes_are_recorded_and_looked_up(tmp_path: Path) -> None:
    """Final outcomes come back as JournaledOutcome, in-flight ids as IN_FLIGHT, pending
    ids not at all; an outcome unknown stays in flight so that resume sends it again."""
    ids = hex_ids(7)
    journal = Journal.open(tmp_path / "j", "job")
    assert journal.resumed is False
    journal.add_pending(ids)
    await journal.mark_in_flight(ids[:6])
    journal.deleted(ids[:1])
    journal.missing(ids[1:3], after_retry=ids[2:3])
    journal.failed(ids[3], "File is locked.", 207, 6)
    journal.keep_in_flight(ids[4:5])
    journal.failed(ids[4], INTERRUPTED_UNKNOWN, None, 1)
    journal.not_attempted(ids[5:])
    found = await journal.lookup(ids)
    assert found == {
        ids[0]: JournaledOutcome(DELETED, None, None, 0, False),
        ids[1]: JournaledOutcome(MISSING, None, None, 0, False),
        ids[2]: JournaledOutcome(MISSING, None, None, 0, True),
        ids[3]: JournaledOutcome(FAILED, "File is locked.", 207, 6, False),
        ids[4]: IN_FLIGHT,
        ids[5]: IN_FLIGHT,
    }
    await journal.close()


async def test_a_final_outcome_is_never_overwritten(tmp_path: Path) -> None:
    """Once deleted, an id stays deleted whatever is recorded for it later."""
    file_id = hex_ids(1)[0]
    journal = Journal.open(tmp_path / "j", "job")
    journal.add_pending([file_id])
    journal.deleted([file_id])
    await journal.mark_in_flight([file_id])
    journal.failed(file_id, "late failure", 500, 3)
    journal.missing([file_id], after_retry=[file_id])
    assert await journal.lookup([file_id]) == {
        file_id: JournaledOutcome(DELETED, None, None, 0, False)
    }
    await journal.close()


async def test_lookup_of_more_ids_than_one_query_holds(tmp_path: Path) -> None:
    """A lookup of thousands of ids (more than SQLite's bound parameters) finds them all."""
    ids = hex_ids(2500)
    journal = Journal.open(tmp_path / "j", "job")
    journal.add_pending(ids)
    journal.deleted(ids[::2])
    found = await journal.lookup(ids)
    assert set(found) == set(ids[::2])
    await journal.close()


async def test_meta_invalid_and_duplicates_are_read_back(tmp_path: Path) -> None:
    """set_meta, invalid lines and repeats are committed by sync and read back after close;
    the same line recorded twice is kept once."""
    path = tmp_path / "j"
    journal = Journal.open(path, "job")
    journal.set_meta(input_done="True", aborted="")
    journal.invalid("ids.txt", 2, "not an id!", "bad character")
    journal.invalid("ids.txt", 2, "not an id!", "bad character")
    journal.duplicate(hex_ids(1)[0], "ids.txt", 3)
    await journal.sync()
    with sqlite3.connect(path) as conn:  # committed, visible to another connection
        assert conn.execute("SELECT value FROM meta WHERE key='input_done'").fetchone() == ("True",)
    await journal.close()
    await journal.close()  # idempotent
    records = rows(path)
    meta = dict(records["meta"][0])
    assert meta["input_done"] == "True"
    assert meta["runs"] == "1"
    assert records["invalid"] == [("ids.txt", 2, "not an id!", "bad character")]
    assert records["duplicate"] == [("ids.txt", 3, hex_ids(1)[0])]


async def test_reopening_counts_runs_and_says_resumed(tmp_path: Path) -> None:
    """The same job's journal opened again is a resumed run, and its run count goes up."""
    path = tmp_path / "j"
    await Journal.open(path, "job").close()
    journal = Journal.open(path, "job")
    assert journal.resumed is True
    await journal.close()
    assert dict(rows(path)["meta"][0])["runs"] == "2"
    assert path.stat().st_mode & 0o777 == 0o600


async def test_a_failed_write_reaches_its_waiter_and_the_writer_lives_on(tmp_path: Path) -> None:
    """An operation the database refuses raises in the awaiting caller (it does not hang),
    and later writes and lookups still work."""
    journal = Journal.open(tmp_path / "j", "job")
    try:
        with pytest.raises(sqlite3.Error):
            await asyncio.wait_for(journal.lookup([("not a string",)]), 1)  # type: ignore[list-item]
        journal.deleted(hex_ids(1))
        assert await journal.lookup(hex_ids(2)) == {
            hex_ids(1)[0]: JournaledOutcome(DELETED, None, None, 0, False)
        }
    finally:
        await journal.close()


async def test_a_closed_journal_refuses_writes(tmp_path: Path) -> None:
    """Recording into a closed journal is a programming error, said plainly."""
    journal = Journal.open(tmp_path / "j", "job")
    await journal.close()
    with pytest.raises(RuntimeError, match="the journal is closed"):
        journal.deleted(hex_ids(1))


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    """Opening or reading a file that is not SQLite is a usage error naming the file."""
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database, just some notes\n" * 100)
    with pytest.raises(UsageError, match=r"notes\.txt is not a bulkdel journal"):
        Journal.open(path, "job")
    with pytest.raises(UsageError, match=r"notes\.txt is not a bulkdel journal"):
        list(read_journal(path))
    assert path.read_bytes().startswith(b"this is not a database")  # left untouched


async def test_a_journal_of_another_schema_is_refused(tmp_path: Path) -> None:
    """A journal written by a future bulkdel (another schema version) is not touched."""
    path = tmp_path / "j"
    await Journal.open(path, "job").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(UsageError, match="journal schema 99 is not supported"):
        Journal.open(path, "job")


async def test_a_journal_of_another_job_names_both_inputs(tmp_path: Path) -> None:
    """The mismatch message names the files the journal was written for and those read now,
    and copes with a fingerprint it cannot parse."""
    path = tmp_path / "j"
    old = tmp_path / "old.txt"
    old.write_text("a\n")
    new = tmp_path / "new.txt"
    new.write_text("b\n")
    await Journal.open(path, fingerprint([str(old)], "https://api.imagekit.io")).close()
    with pytest.raises(JournalMismatchError) as raised:
        Journal.open(path, fingerprint([str(new)], "https://api.imagekit.io"))
    message = str(raised.value)
    assert f"written for {old.resolve()} at https://api.imagekit.io" in message
    assert f"this run reads {new.resolve()} at https://api.imagekit.io" in message
    assert "Use a new journal path" in message
    with pytest.raises(JournalMismatchError, match="this run reads an unknown input"):
        Journal.open(path, "not json")


def test_fingerprint_tells_inputs_apart(tmp_path: Path) -> None:
    """The fingerprint changes with a file's content and the API root; stdin and a missing
    file are named without being read."""
    source = tmp_path / "ids.txt"
    source.write_text("a\n")
    first = fingerprint([str(source)], "https://api.imagekit.io")
    assert first == fingerprint([str(source)], "https://api.imagekit.io")
    assert first != fingerprint([str(source)], "http://127.0.0.1:1")
    source.write_text("b\n")
    assert first != fingerprint([str(source)], "https://api.imagekit.io")
    missing = str(tmp_path / "gone.txt")
    assert fingerprint(["-", missing], "u") == f'["u", ["<stdin>"], ["{missing}"]]'


def test_reading_a_journal_that_does_not_exist(tmp_path: Path) -> None:
    """read_journal on a missing path is a usage error, and creates nothing."""
    with pytest.raises(UsageError, match="no such journal"):
        next(read_journal(tmp_path / "nope"))
    assert not (tmp_path / "nope").exists()
