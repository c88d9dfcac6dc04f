"""Property tests of the pure parts: the id rule, de-duplication, batching, the accounting."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkdel import BulkDeleter
from bulkdel.engine.sources import detect_format, iterable_chunks
from bulkdel.engine.validate import id_problem, is_valid_id
from bulkdel.models import Kind, Outcome, Settings
from bulkdel.record.ledger import Counts, Ledger, RequestStats
from bulkdel.record.report import Report, ReportWriter

REFERENCE = re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z")
id_alphabet = st.sampled_from("0123456789abcdefABCDEF_-xyz")
#: mostly valid, and across the lower bound (16)
ids = st.text(id_alphabet, min_size=12, max_size=64)
anything = st.one_of(
    ids,
    st.text(max_size=70),
    st.text(id_alphabet, max_size=20),
    st.text(id_alphabet, min_size=60, max_size=70),
)


@given(anything)
def test_id_rule_matches_the_spec(value: str) -> None:
    """Valid exactly when 16-64 of [A-Za-z0-9_-]; otherwise a non-empty reason."""
    expected = REFERENCE.match(value) is not None
    assert is_valid_id(value) == expected
    assert (id_problem(value) is None) == expected
    if not expected:
        assert id_problem(value)


@given(st.text(min_size=1, max_size=3).filter(lambda s: not REFERENCE.match(s)))
def test_unicode_lookalikes_are_invalid(value: str) -> None:
    """Digits and letters outside ASCII (e.g. Arabic-Indic digits) are not id characters."""
    assert not is_valid_id("ab" + value)


@given(st.text(max_size=20), st.sampled_from(["auto", "lines", "csv", "jsonl"]))
def test_detect_format(name: str, fmt: str) -> None:
    """auto picks by extension; any other format is taken as given."""
    got = detect_format(name, fmt)  # type: ignore[arg-type]
    if fmt != "auto":
        assert got == fmt
    elif name.lower().endswith(".csv"):
        assert got == "csv"
    elif name.lower().endswith((".jsonl", ".ndjson")):
        assert got == "jsonl"
    else:
        assert got == "lines"


@given(st.lists(st.one_of(anything, st.integers(), st.none()), max_size=3000))
def test_iterable_chunks_keep_every_item_in_order(values: list[Any]) -> None:
    """Every value becomes one item, positions 1..n in order; non-strings are invalid."""

    async def collect() -> list[Any]:
        return [item async for chunk in iterable_chunks(values) for item in chunk.items]

    items = asyncio.run(collect())
    assert [line for line, _, _ in items] == list(range(1, len(values) + 1))
    for (_, value, problem), original in zip(items, values, strict=True):
        if not isinstance(original, str):
            assert problem == "not a string"
        else:
            assert value == original.strip()
            assert (problem is None) == is_valid_id(value)


class Recorder:
    """A sender that deletes everything and records the batches."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.batches.append(list(file_ids))
        await asyncio.sleep(0)
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(ids, st.sampled_from(["", "bad id"])), max_size=400),
    batch_size=st.integers(1, 100),
    concurrency=st.integers(1, 8),
)
def test_batching(values: list[str], batch_size: int, concurrency: int) -> None:
    """Batches hold 1..batch_size distinct valid ids; each unique id is sent exactly once."""
    sender = Recorder()
    config = Settings(batch_size=batch_size, concurrency=concurrency, linger=0.001)
    report = asyncio.run(BulkDeleter(settings=config, sender=sender).run(values))
    sent = [i for batch in sender.batches for i in batch]
    assert all(1 <= len(b) <= batch_size for b in sender.batches)
    assert all(len(set(b)) == len(b) for b in sender.batches)
    unique = list(dict.fromkeys(v.strip() for v in values if is_valid_id(v.strip())))
    assert sorted(sent) == sorted(unique)
    # A stream read in one go is cut into full batches; only the last may be short.
    assert len(sender.batches) == -(-len(unique) // batch_size)
    assert report.counts.deleted == len(unique) and report.counts.balanced()


events = st.lists(
    st.tuples(
        st.sampled_from(["invalid", "duplicate", "unique", "deleted", "missing", "failed", "na"]),
        st.integers(0, 5),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_ledger_and_report_files_agree(
    tmp_path_factory: Any, script: list[tuple[str, int]]
) -> None:
    """Any sequence of ledger events: counts add up, each list file holds as many lines as its
    count, summary.json holds the counts, and the exit code follows them."""
    directory = tmp_path_factory.mktemp("report")
    writer = ReportWriter(directory)
    ledger = Ledger([writer])
    pending: list[str] = []
    n = 0
    for kind, count in script:
        for _ in range(count):
            n += 1
            file_id = f"id{n}"
            if kind == "invalid":
                ledger.invalid("src", n, file_id + " x", "bad")
            elif kind == "duplicate":
                ledger.duplicate(file_id)
            elif kind == "unique":
                ledger.unique()
                pending.append(file_id)
            elif pending:
                taken = pending.pop()
                if kind == "deleted":
                    ledger.deleted([taken])
                elif kind == "missing":
                    ledger.missing([taken], [taken] if n % 2 else [])
                elif kind == "failed":
                    ledger.failed(taken, "boom", 500, 3)
                else:
                    ledger.not_attempted([taken])
            c = ledger.counts
            assert c.read == c.invalid + c.duplicate + c.unique
            assert c.pending == len(pending)
    ledger.not_attempted(pending)
    c = ledger.counts
    assert c.balanced()
    report = Report(c, RequestStats(), complete=c.not_attempted == 0, abort=None, elapsed_s=1.0)
    writer.close(report.summary())
    lines = {p.name: p.read_text().splitlines() for p in directory.iterdir() if p.is_file()}
    assert len(lines["deleted.txt"]) == c.deleted
    assert len(lines["missing.txt"]) == c.missing
    assert len(lines["missing_after_retry.txt"]) == c.missing_after_retry
    assert len(lines["failed.jsonl"]) == c.failed
    assert len(lines["not_attempted.txt"]) == c.not_attempted
    assert len(lines["duplicates.txt"]) == c.duplicate
    assert len(lines["invalid.jsonl"]) == c.invalid
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["counts"] == c.as_dict()
    assert report.exit_code == (1 if c.failed or c.not_attempted else 0)


@given(
    st.builds(
        Counts,
        read=st.integers(0, 9),
        invalid=st.integers(0, 9),
        duplicate=st.integers(0, 9),
        unique=st.integers(0, 9),
        deleted=st.integers(0, 9),
        missing=st.integers(0, 9),
        failed=st.integers(0, 9),
        not_attempted=st.integers(0, 9),
        missing_after_retry=st.integers(0, 9),
    )
)
def test_balanced_is_the_two_equalities(c: Counts) -> None:
    """Counts.balanced() is exactly the contract's two equalities (after-retry within missing)."""
    expected = (
        c.read == c.invalid + c.duplicate + c.unique
        and c.unique == c.deleted + c.missing + c.failed + c.not_attempted
        and c.missing_after_retry <= c.missing
    )
    assert c.balanced() == expected


def test_report_directory_is_reused_safely(tmp_path: Path) -> None:
    """A second writer on the same directory starts the lists afresh (no stale lines)."""
    first = ReportWriter(tmp_path)
    first.deleted(["a", "b"])
    first.close()
    second = ReportWriter(tmp_path)
    second.deleted(["c"])
    second.close()
    assert (tmp_path / "deleted.txt").read_text() == "c\n"
