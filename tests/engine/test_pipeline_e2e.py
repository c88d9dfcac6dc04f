"""Every outcome of the API's table (docs/contract.md) end to end: library API -> client ->
fake server -> report files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings, delete_files
from bulkdel.models import Abort, AbortReason, Kind, Outcome
from bulkdel.record.report import Report
from bulkdel.testing import FakeImageKit, Faults, RateWindow
from tests.helpers import (
    KEY,
    MakeFake,
    check_ground_truth,
    check_report_dir,
    hex_ids,
    read_jsonl,
    read_lines,
)

FAST = {"backoff_base": 0.001, "backoff_max": 0.01}


async def run(
    server: FakeImageKit, ids: list[str], tmp_path: Path, **options: object
) -> tuple[Report, dict[str, object]]:
    """Run a job against ``server`` with fast backoff; return the report and summary.json."""
    settings = Settings(base_url=server.url, **{**FAST, **options})  # type: ignore[arg-type]
    deleter = BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "report")
    report = await deleter.run(ids)
    summary = check_report_dir(tmp_path / "report")
    check_ground_truth(tmp_path / "report", server)
    return report, summary


async def test_200_every_id_deleted(tmp_path: Path, make_fake: MakeFake) -> None:
    """All ids exist: all end in deleted, and the server deleted exactly those."""
    ids = hex_ids(1050)
    server = await make_fake(existing=ids)
    report, summary = await run(server, ids, tmp_path)
    assert report.counts.deleted == 1050
    assert server.deleted == set(ids)
    assert summary["complete"] is True
    assert summary["requests"]["by_status"] == {"200": 11}
    assert report.exit_code == 0


async def test_404_missing_ids_and_rest_sent_again(tmp_path: Path, make_fake: MakeFake) -> None:
    """A 404 marks its missingFileIds missing and re-sends the rest without burning a retry."""
    ids = hex_ids(300)
    existing = ids[::2]
    server = await make_fake(existing=existing)
    report, _ = await run(server, ids, tmp_path)
    assert set(read_lines(tmp_path / "report" / "deleted.txt")) == set(existing)
    assert set(read_lines(tmp_path / "report" / "missing.txt")) == set(ids[1::2])
    assert report.counts.missing_after_retry == 0
    assert report.requests.retried == 0
    assert report.requests.by_status["404"] == 3
    assert report.exit_code == 0


async def test_207_transient_errors_are_retried_until_deleted(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """Ids in a 207's errors go out again in later batches and end deleted."""
    ids = hex_ids(2000)
    faults = Faults(seed=4, transient_207=0.2)
    server = await make_fake(existing=ids, faults=faults)
    report, _ = await run(server, ids, tmp_path, max_attempts=10)
    assert report.requests.by_status["207"] > 0
    assert report.counts.deleted == 2000
    assert report.counts.failed == 0


async def test_207_permanent_error_fails_with_server_message(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """An id that always errors fails after max_attempts, with the server's message."""
    ids = hex_ids(250)
    faults = Faults(permanent_errors=frozenset({ids[7]}))
    server = await make_fake(existing=ids, faults=faults)
    report, _ = await run(server, ids, tmp_path, max_attempts=3)
    failed = read_jsonl(tmp_path / "report" / "failed.jsonl")
    assert failed == [
        {
            "fileId": ids[7],
            "error": "File is locked and cannot be deleted.",
            "status": 207,
            "attempts": 3,
        }
    ]
    assert report.counts.deleted == 249
    assert report.exit_code == 1


@pytest.mark.parametrize("fault", ["error_5xx", "html_error", "drop_before"])
async def test_transient_failures_are_retried(
    tmp_path: Path, fault: str, make_fake: MakeFake
) -> None:
    """5xx, HTML error pages and dropped connections are retried until the ids are deleted."""
    ids = hex_ids(1500)
    faults = Faults(seed=2, **{fault: 0.3})  # type: ignore[arg-type]
    server = await make_fake(existing=ids, faults=faults)
    report, _ = await run(server, ids, tmp_path, max_attempts=12)
    assert server.stats.faults[fault] > 0
    assert report.counts.deleted == 1500
    assert report.requests.retried >= server.stats.faults[fault]


async def test_5xx_every_time_fails_as_outcome_unknown(tmp_path: Path, make_fake: MakeFake) -> None:
    """A batch that only ever gets 5xx fails after max_attempts, flagged as outcome unknown."""
    ids = hex_ids(10)
    server = await make_fake(existing=ids, faults=Faults(error_5xx=1.0))
    report, _ = await run(server, ids, tmp_path, max_attempts=4)
    failed = read_jsonl(tmp_path / "report" / "failed.jsonl")
    assert len(failed) == 10
    assert all(r["attempts"] == 4 and r["status"] == 503 for r in failed)
    assert all("outcome unknown" in r["error"] for r in failed)
    assert report.requests.sent == 4
    assert not server.deleted


@pytest.mark.parametrize("fault", ["slow_after", "drop_after"])
async def test_applied_but_unanswered_is_missing_after_retry(
    tmp_path: Path, fault: str, make_fake: MakeFake
) -> None:
    """A delete applied without an answer: the retry finds the ids missing, and says so."""
    ids = hex_ids(100)
    faults = Faults(seed=1, slow_seconds=1.0, **{fault: 1.0})  # type: ignore[arg-type]
    server = await make_fake(existing=ids, faults=faults)
    report, _ = await run(server, ids, tmp_path, timeout=0.2)
    assert report.counts.missing == 100
    assert report.counts.missing_after_retry == 100
    assert set(read_lines(tmp_path / "report" / "missing_after_retry.txt")) == set(ids)
    assert server.deleted == set(ids)
    assert report.exit_code == 0


async def test_wrong_key_aborts_after_requests_in_flight(tmp_path: Path) -> None:
    """A 403 stops the run: at most `concurrency` requests, nothing deleted, all accounted."""
    ids = hex_ids(5000)
    async with FakeImageKit("another key", faults=Faults(latency=0.01)) as server:
        report, summary = await run(server, ids, tmp_path, concurrency=4)
    assert server.stats.requests <= 4
    assert summary["aborted"].startswith("fatal: HTTP 403")
    assert summary["complete"] is False
    assert report.counts.deleted == 0
    assert report.exit_code == 3


async def test_404_not_about_files_aborts(tmp_path: Path, make_fake: MakeFake) -> None:
    """A 404 with no missingFileIds (a wrong base URL) aborts as a configuration error."""
    ids = hex_ids(500)
    server = await make_fake()
    settings = Settings(base_url=server.url + "/wrong-prefix", **FAST)  # type: ignore[arg-type]
    deleter = BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "report")
    report = await deleter.run(ids)
    summary = check_report_dir(tmp_path / "report")
    assert summary["aborted"].startswith("fatal: HTTP 404")
    assert report.exit_code == 3
    assert report.requests.sent <= 8


async def test_concurrency_is_bounded(tmp_path: Path, make_fake: MakeFake) -> None:
    """The server never sees more requests in flight than --concurrency, and sees that many.

    200 requests: the first contact's slow start holds one in flight for its first 32
    answers (a busy host's slow answers can keep it there through a shorter run)."""
    ids = hex_ids(20_000)
    server = await make_fake(faults=Faults(latency=0.01))
    await run(server, ids, tmp_path, concurrency=3)
    assert server.stats.max_in_flight == 3


class _RecordingSender:
    """Wraps a client and records (start, end, outcome) of every request, in loop time."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls: list[tuple[float, float, Outcome]] = []

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        loop = asyncio.get_running_loop()
        start = loop.time()
        outcome: Outcome = await self.inner.delete_batch(file_ids)  # type: ignore[attr-defined]
        self.calls.append((start, loop.time(), outcome))
        return outcome


async def test_429_reset_is_honoured_by_every_worker(tmp_path: Path, make_fake: MakeFake) -> None:
    """After a 429 saying "wait r", no worker starts a request before r has passed."""
    from bulkdel.imagekit import DeleteClient

    ids = hex_ids(4000)
    server = await make_fake(windows=[RateWindow(8, 0.3)])
    client = DeleteClient(KEY, base_url=server.url)
    sender = _RecordingSender(client)
    settings = Settings(base_url=server.url, concurrency=6, **FAST)  # type: ignore[arg-type]
    deleter = BulkDeleter(settings=settings, sender=sender, report_dir=tmp_path / "r")
    report = await deleter.run(ids)
    await client.close()
    check_report_dir(tmp_path / "r")
    assert report.counts.deleted == 4000
    throttled = [(end, o.retry_after) for _, end, o in sender.calls if o.kind is Kind.THROTTLED]
    assert throttled, "the window never throttled: the test has no teeth"
    for answered, wait in throttled:
        assert wait is not None
        too_early = [s for s, _, _ in sender.calls if answered <= s < answered + wait - 0.002]
        assert not too_early, f"{len(too_early)} requests started inside a {wait}s wait"
    # Each window is refused at most once per worker in flight, never a retry storm.
    assert len(throttled) <= 6 * (len(sender.calls) // 8 + 1)


async def test_stop_settles_in_flight_and_accounts_everything(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """stop() mid-run: in-flight batches settle, the rest is not attempted, counts add up."""
    ids = hex_ids(20_000)
    server = await make_fake(faults=Faults(latency=0.01))
    settings = Settings(base_url=server.url, concurrency=4, **FAST)  # type: ignore[arg-type]
    deleter = BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "report")
    job = asyncio.create_task(deleter.run(ids))
    while deleter.counts.deleted < 1000:
        await asyncio.sleep(0.005)
    deleter.stop(Abort(AbortReason.INTERRUPTED, "test"))
    report = await job
    summary = check_report_dir(tmp_path / "report")
    check_ground_truth(tmp_path / "report", server)
    assert summary["complete"] is False
    assert summary["aborted"] == "interrupted by test"
    assert report.counts.not_attempted > 0
    assert report.counts.deleted == len(server.deleted)


async def test_cancel_still_accounts_every_id(tmp_path: Path, make_fake: MakeFake) -> None:
    """Cancelling run() stops at once, yet the written report adds up."""
    ids = hex_ids(20_000)
    server = await make_fake(faults=Faults(latency=0.01))
    settings = Settings(base_url=server.url, concurrency=4, **FAST)  # type: ignore[arg-type]
    deleter = BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "report")
    job = asyncio.create_task(deleter.run(ids))
    while deleter.counts.deleted < 500:
        await asyncio.sleep(0.005)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    summary = check_report_dir(tmp_path / "report")
    assert summary["complete"] is False
    assert deleter.last_report is not None
    # In-flight requests were cut off: the server may have deleted ids we could not report.
    deleted = set(read_lines(tmp_path / "report" / "deleted.txt"))
    assert deleted <= server.deleted


async def test_max_delete_refuses_before_sending(tmp_path: Path, make_fake: MakeFake) -> None:
    """More unique ids than max_delete: nothing is sent, the run says why."""
    ids = hex_ids(501)
    server = await make_fake()
    report, summary = await run(server, ids, tmp_path, max_delete=500)
    assert server.stats.requests == 0
    assert summary["aborted"].startswith("refused")
    # the library names its setting; the command line shows it as --max-delete
    assert "(max_delete)" in summary["aborted"] and "--" not in summary["aborted"]
    assert report.counts.not_attempted == 501


async def test_max_delete_within_limit_runs(tmp_path: Path, make_fake: MakeFake) -> None:
    """Exactly max_delete unique ids (with repeats) are deleted normally."""
    ids = hex_ids(500) + hex_ids(20)
    server = await make_fake()
    report, _ = await run(server, ids, tmp_path, max_delete=500)
    assert report.counts.deleted == 500
    assert report.counts.duplicate == 20


async def test_dry_run_sends_nothing(tmp_path: Path, make_fake: MakeFake) -> None:
    """A dry run reads, validates and de-duplicates, and sends no request."""
    ids = [*hex_ids(300), "bad id", hex_ids(1)[0]]
    server = await make_fake()
    report, _ = await run(server, ids, tmp_path, dry_run=True)
    assert server.stats.requests == 0
    assert report.counts.unique == 300
    assert report.counts.invalid == 1
    assert report.counts.duplicate == 1
    assert report.counts.not_attempted == 300


class _BadRequestFor:
    """An in-memory sender: 400 for any batch holding a poison id, else 200."""

    def __init__(self, poison: set[str]) -> None:
        self.poison = poison
        self.sent: list[list[str]] = []

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.sent.append(list(file_ids))
        if self.poison & set(file_ids):
            return Outcome(Kind.BAD_REQUEST, 400, message="fileIds contains an invalid id")
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


async def test_400_splits_the_batch_to_isolate_offenders(tmp_path: Path) -> None:
    """A 400 halves the batch until the offending ids stand alone and fail; the rest goes."""
    ids = hex_ids(100)
    sender = _BadRequestFor({ids[3], ids[77]})
    settings = Settings(base_url="http://127.0.0.1:9", **FAST)  # type: ignore[arg-type]
    deleter = BulkDeleter(settings=settings, sender=sender, report_dir=tmp_path / "r")
    report = await deleter.run(ids)
    check_report_dir(tmp_path / "r")
    failed = read_jsonl(tmp_path / "r" / "failed.jsonl")
    assert sorted(r["fileId"] for r in failed) == sorted([ids[3], ids[77]])
    assert all(r["status"] == 400 for r in failed)
    assert report.counts.deleted == 98
    assert len(sender.sent) <= 2 * 2 * 7 + 1  # a binary search per offender, not 100 requests


async def test_delete_files_accepts_async_iterables(tmp_path: Path, make_fake: MakeFake) -> None:
    """delete_files takes an async generator of ids and a slow source still gets flushed."""
    ids = hex_ids(130)

    async def slowly() -> object:
        for n, file_id in enumerate(ids):
            if n == 120:
                await asyncio.sleep(0.5)  # the partial batch must go out meanwhile
            yield file_id

    server = await make_fake()
    report = await delete_files(
        slowly(), private_key=KEY, base_url=server.url, report_dir=tmp_path / "r"
    )
    check_report_dir(tmp_path / "r")
    assert report.counts.deleted == 130
    assert server.stats.requests == 3  # 100, then 20 flushed while idle, then 10
