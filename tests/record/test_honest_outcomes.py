"""Outcomes that read as success only when they are: the one rule for ``complete``, a run
that never got an answer, an input without one valid id, a dry run's head."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkdel import BulkDeleter, delete_batch, delete_files
from bulkdel.engine.validate import id_problem
from bulkdel.errors import UsageError
from bulkdel.models import Abort, AbortReason, ExitCode, Settings
from bulkdel.record.ledger import Counts, RequestStats
from bulkdel.record.report import Report, format_text
from bulkdel.record.verdict import is_complete
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, MakeFake, closed_port, hex_ids


def test_the_one_rule_for_complete() -> None:
    """Complete: the input read, no id left unsent or pending, no abort."""
    done = Counts(read=2, unique=2, deleted=1, failed=1)
    assert is_complete(done, input_done=True, abort=None)
    assert not is_complete(done, input_done=False, abort=None)
    assert not is_complete(done, input_done=True, abort=Abort(AbortReason.STOPPED))
    assert not is_complete(Counts(read=2, unique=2, deleted=1, not_attempted=1), True, None)
    assert not is_complete(Counts(read=2, unique=2, deleted=1), input_done=True, abort=None)


async def test_a_run_that_never_connects_is_not_complete() -> None:
    """Ids sent to a closed port: not complete, aborted 'unreachable', exit 3 (as the
    preflight's failure), for library callers too."""
    url = f"http://127.0.0.1:{closed_port()}"
    settings = Settings(base_url=url, max_attempts=2, backoff_base=0.0, backoff_max=0.0)
    report = await BulkDeleter(KEY, settings=settings).run(hex_ids(3))
    assert report.requests.never_connected
    assert not report.complete
    assert report.abort is not None and report.abort.reason is AbortReason.UNREACHABLE
    assert report.exit_code == ExitCode.FATAL
    assert report.summary()["aborted"].startswith("unreachable: ")
    assert format_text(report).startswith("bulkdel: NO CONNECTION — none of ")


async def test_a_server_answering_5xx_to_everything_is_not_complete(make_fake: MakeFake) -> None:
    """Every attempt gets a 500: the server never answered usefully; not complete."""
    faults = Faults(seed=1, error_5xx=1.0)
    server = await make_fake(faults=faults)
    settings = Settings(base_url=server.url, max_attempts=3, backoff_base=0.0, backoff_max=0.0)
    report = await BulkDeleter(KEY, settings=settings).run(hex_ids(3))
    assert server.deleted == set()
    assert report.counts.failed == 3
    assert not report.complete
    assert report.abort is not None and report.abort.reason is AbortReason.UNREACHABLE
    assert report.exit_code == ExitCode.FATAL
    assert "bulkdel: INCOMPLETE — aborted: unreachable: " in format_text(report)


async def test_one_good_answer_is_enough_to_be_reachable(make_fake: MakeFake) -> None:
    """A 500 now and then is a failure to count, not an unreachable server."""
    server = await make_fake(faults=Faults(seed=3, error_5xx=0.3))
    settings = Settings(
        base_url=server.url, batch_size=1, max_attempts=6, backoff_base=0.0, backoff_max=0.0
    )
    report = await BulkDeleter(KEY, settings=settings).run(hex_ids(10))
    assert report.abort is None and report.complete
    assert report.counts.deleted == len(server.deleted) == 10


async def test_an_input_without_one_valid_id_is_refused_after_reading(tmp_path: Path) -> None:
    """Every line invalid: nothing sent, aborted 'no valid id', exit 2, not complete."""
    lines = ["https://ik.imagekit.io/x/a.jpg", '"0123456789abcdef01234567"', "a b"]
    report = await BulkDeleter(KEY, settings=Settings(dry_run=True), report_dir=tmp_path).run(lines)
    assert report.counts.read == report.counts.invalid == 3
    assert not report.complete
    assert report.abort is not None and report.abort.reason is AbortReason.NO_VALID_ID
    assert report.exit_code == ExitCode.USAGE
    head = format_text(report).splitlines()[0]
    assert head == "bulkdel: NO VALID ID — none of the 3 ids read is valid; nothing sent"


async def test_an_empty_input_is_still_fine() -> None:
    """Nothing read (an empty file, a selection that matched nothing) is not an error."""
    report = await BulkDeleter(KEY, settings=Settings(dry_run=True)).run([])
    assert report.abort is None and report.exit_code == 0


def test_a_dry_run_is_headed_as_one() -> None:
    """A dry run that ran through says so; it is not 'INCOMPLETE' (exit 0)."""
    report = Report(
        counts=Counts(read=2, unique=2, not_attempted=2),
        requests=RequestStats(),
        complete=False,
        abort=None,
        elapsed_s=0.1,
        dry_run=True,
    )
    assert format_text(report).splitlines()[0] == "bulkdel: dry run — nothing sent"
    assert report.exit_code == 0


@pytest.mark.parametrize("reason", list(AbortReason))
def test_every_abort_reason_has_an_exit_code_entry(reason: AbortReason) -> None:
    """The one table maps every reason, the new ones included."""
    from bulkdel.models import EXIT_CODES

    assert reason in EXIT_CODES


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("5", "shorter than 16 characters (1)"),
        ("fileId", "shorter than 16 characters (6)"),
        ("0123456789abcde", "shorter than 16 characters (15)"),
        ("0123456789abcdef01234567 ", "character ' ' is not allowed"),
        ("0123456789ab\x00cdef01234567", "character '\\x00' is not allowed"),
        ("0123456789ab/cdef01234567", "character '/' is not allowed"),
        ("a" * 65, "longer than 64 characters (65)"),
        ("a/" * 40, "character '/' is not allowed"),
        ("", "empty id"),
    ],
)
def test_the_id_rule_refuses_what_cannot_be_a_file_id(value: str, problem: str) -> None:
    """One character, a header word, whitespace, control characters, '/', 65 characters."""
    reason = id_problem(value)
    assert reason is not None and reason.startswith(problem)


@pytest.mark.parametrize("value", ["0123456789abcdef01234567", "a" * 16, "A_b-" * 16])
def test_the_id_rule_takes_imagekit_ids_and_the_safe_alphabet(value: str) -> None:
    """ImageKit's 24 hex characters, and 16..64 of [A-Za-z0-9_-]."""
    assert id_problem(value) is None


ONE_ID = "5f2b7c0123456789abcdef01"


@pytest.mark.parametrize("source", [ONE_ID, ONE_ID.encode()])
async def test_one_id_as_a_string_is_refused_not_iterated(
    source: str | bytes, fake_server: FakeImageKit
) -> None:
    """delete_files("5f2b...") would send 24 one-character ids: refused, naming ``ids``,
    before anything is sent."""
    with pytest.raises(UsageError, match=r"^ids is a (str|bytes), not a collection") as info:
        await delete_files(source, private_key=KEY, base_url=fake_server.url)  # type: ignore[arg-type]
    assert info.value.parameter == "ids"
    with pytest.raises(UsageError) as info:
        await BulkDeleter(KEY, settings=Settings(base_url=fake_server.url)).run(source)  # type: ignore[arg-type]
    assert info.value.parameter == "ids"
    with pytest.raises(UsageError, match=r"^file_ids is a (str|bytes)") as info:
        await delete_batch(source, private_key=KEY, base_url=fake_server.url)  # type: ignore[arg-type]
    assert info.value.parameter == "file_ids"
    assert fake_server.stats.requests == 0
