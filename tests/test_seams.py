"""The seams shared by every part: typed abort reasons and exit codes, one stop signal, one
retry path with one seeded backoff, requests counted by kind, and one injectable clock."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from bulkdel import Abort, AbortReason, BulkDeleter, Settings, Stopped
from bulkdel.budget import LocalBudget
from bulkdel.core.clock import Clock
from bulkdel.core.stop import StopSignal
from bulkdel.engine.pipeline import Pipeline
from bulkdel.engine.retry import Backoff
from bulkdel.engine.sources import iterable_chunks
from bulkdel.imagekit import ListingClient
from bulkdel.listing.host import StandaloneHost
from bulkdel.listing.pager import Listing
from bulkdel.listing.selection import Selection
from bulkdel.models import EXIT_CODES, FileError, Kind, Outcome
from bulkdel.record.journal.journal import Journal
from bulkdel.record.journal.rebuild import report_from_journal
from bulkdel.record.ledger import Counts, Ledger, RequestStats
from bulkdel.record.report import Report
from bulkdel.testing import seed_files
from tests.helpers import KEY, MakeFake, VirtualClock, hex_ids


class NeverClock(VirtualClock):
    """A clock whose sleeps never end: only a stop can end a wait on it."""

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.Event().wait()


@pytest.mark.parametrize(
    ("abort", "text"),
    [
        (Abort(AbortReason.INTERRUPTED, "SIGINT"), "interrupted by SIGINT"),
        (Abort(AbortReason.CANCELLED), "cancelled"),
        (Abort(AbortReason.STOPPED), "stopped"),
        (Abort(AbortReason.REFUSED, "too many"), "refused: too many"),
        (Abort(AbortReason.FATAL, "HTTP 403: no"), "fatal: HTTP 403: no"),
        (Abort(AbortReason.FATAL, "listing: HTTP 403: no"), "fatal: listing: HTTP 403: no"),
        (Abort(AbortReason.LISTING_FAILED, "a page failed"), "listing failed: a page failed"),
        (Abort(AbortReason.ERROR, "KeyError: 'x'"), "error: KeyError: 'x'"),
    ],
)
def test_an_abort_reads_as_the_summary_always_said(abort: Abort, text: str) -> None:
    """``str(abort)`` is the text summary.json has always shown for that reason."""
    assert str(abort) == text
    report = Report(Counts(), RequestStats(), complete=False, abort=abort, elapsed_s=1.0)
    assert report.aborted == text
    assert report.summary()["aborted"] == text


@pytest.mark.parametrize("reason", list(AbortReason))
def test_the_exit_code_comes_from_the_reason_not_its_text(reason: AbortReason) -> None:
    """One mapping: a reason that sets a code gives it whatever the detail says; the others
    leave it to the counts (ids not attempted: 1)."""
    abort = Abort(reason, "fatal refused interrupted")  # words that once decided the code
    counts = Counts(read=1, unique=1, not_attempted=1)
    report = Report(counts, RequestStats(), complete=False, abort=abort, elapsed_s=1.0)
    expected = EXIT_CODES[reason]
    assert report.exit_code == (1 if expected is None else expected)


def test_interruption_and_cancellation_exit_130() -> None:
    """The CLI returns ``report.exit_code``: 130 for a signal or a cancelled task."""
    for reason in (AbortReason.INTERRUPTED, AbortReason.CANCELLED):
        report = Report(Counts(), RequestStats(), complete=False, abort=Abort(reason), elapsed_s=1)
        assert report.exit_code == 130


def test_the_backoff_is_full_jitter_capped_and_replays_from_a_seed() -> None:
    """Two backoffs seeded alike wait alike; every wait is within [0, min(cap, base*2^(n-1))]."""
    first = Backoff(0.5, 4.0, random.Random(7))
    second = Backoff(0.5, 4.0, random.Random(7))
    waits = [first.delay(n) for n in range(1, 12)]
    assert waits == [second.delay(n) for n in range(1, 12)]
    for n, wait in enumerate(waits, start=1):
        assert 0 <= wait <= min(4.0, 0.5 * 2 ** (n - 1))
    assert len(set(waits)) > 1


async def test_a_stop_ends_a_wait_at_once_with_stopped() -> None:
    """``StopSignal.sleep`` raises ``Stopped`` carrying the reason when a stop comes."""
    signal = StopSignal(NeverClock())
    waiter = asyncio.create_task(signal.sleep(3600))
    await asyncio.sleep(0)
    signal.set(Abort(AbortReason.STOPPED, "test"))
    signal.set(Abort(AbortReason.FATAL, "later"))  # the first reason wins
    with pytest.raises(Stopped) as stopped:
        await waiter
    assert stopped.value.reason == Abort(AbortReason.STOPPED, "test")


class _Busy:
    """A listing client that is always answered 503."""

    def __init__(self) -> None:
        self.calls = 0

    async def get_page(self, params: dict[str, str]) -> tuple[Outcome, Any]:
        self.calls += 1
        return Outcome(Kind.TRANSIENT, 503, message="busy"), None

    async def close(self) -> None:
        return None


async def test_a_stop_ends_a_listing_backoff_without_polling() -> None:
    """A listing waiting to retry a page ends quietly the moment its host stops: the wait
    is on the host's clock (here one that never wakes), so nothing polls a flag."""
    client = _Busy()
    listing = Listing(client, Selection(path="/a/"))  # type: ignore[arg-type]
    clock = NeverClock()
    host = StandaloneHost(Settings(max_attempts=5), clock=clock)
    task = asyncio.create_task(anext(aiter(listing.entries(host)), None))
    while not clock.slept:
        await asyncio.sleep(0)
    host.stop(Abort(AbortReason.STOPPED))
    assert await task is None
    assert client.calls == 1 and len(clock.slept) == 1
    assert host.requests.by_kind["list"] == 1 and listing.requests == 1


async def test_listing_requests_are_counted_with_deletes_by_kind(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """summary.json's requests keep ``sent`` for deletes and add every request by kind,
    listing pages included."""
    server = await make_fake(files=seed_files({"/a/": 250}))
    client = ListingClient(KEY, base_url=server.url)
    listing = Listing(client, Selection(path="/a/"), page_size=100)
    deleter = BulkDeleter(KEY, settings=Settings(base_url=server.url), report_dir=tmp_path)
    report = await deleter.run(listing=listing)
    assert report.counts.deleted == 250
    requests = report.summary()["requests"]
    assert requests["by_kind"] == {"delete": requests["sent"], "list": listing.requests}
    assert listing.requests >= 3 and requests["sent"] >= 3


async def test_a_207_retry_waits_on_the_run_clock_with_the_run_backoff() -> None:
    """Ids a 207 answered with errors come back after the run's backoff, drawn from the
    run's ``rng`` and waited on the run's clock (a minute of backoff, no real waiting)."""
    drawn: list[tuple[float, float]] = []

    class Recording(random.Random):
        def uniform(self, a: float, b: float) -> float:
            drawn.append((a, b))
            return b

    ids = hex_ids(3)
    locked = {ids[0]}

    class Sender:
        async def delete_batch(self, file_ids: list[str]) -> Outcome:
            errors = tuple(FileError(i, "locked") for i in file_ids if i in locked)
            locked.clear()
            deleted = tuple(i for i in file_ids if not any(e.file_id == i for e in errors))
            return Outcome(Kind.SUCCESS, 207 if errors else 200, deleted=deleted, errors=errors)

    clock = VirtualClock()
    as_clock: Clock = clock  # the protocol every part takes
    ledger = Ledger()
    settings = Settings(backoff_base=60.0, backoff_max=600.0, linger=0.001)
    pipeline = Pipeline(
        Sender(),
        settings,
        ledger,
        clock=as_clock,
        rng=Recording(),
        budget=LocalBudget(clock=as_clock),
    )
    await pipeline.run(iterable_chunks(ids))
    assert ledger.counts.deleted == 3
    assert drawn == [(0, 60.0)]
    assert sum(clock.slept) >= 60.0


async def test_a_rebuilt_report_keeps_the_typed_reason(tmp_path: Path) -> None:
    """The journal stores the reason typed as well as its text; a journal that has only the
    text (written before) comes back as an error with that text."""
    journal = Journal.open(tmp_path / "j", "job")
    journal.set_meta(input_done="False")
    journal.set_abort(Abort(AbortReason.FATAL, "HTTP 401: no"))
    await journal.close()
    report = report_from_journal(tmp_path / "j", tmp_path / "r")
    assert report.abort == Abort(AbortReason.FATAL, "HTTP 401: no")
    assert report.exit_code == 3

    old = Journal.open(tmp_path / "old", "job")
    old.set_meta(aborted="interrupted by SIGINT")
    await old.close()
    rebuilt = report_from_journal(tmp_path / "old", tmp_path / "r2")
    assert rebuilt.abort == Abort(AbortReason.ERROR, "interrupted by SIGINT")
