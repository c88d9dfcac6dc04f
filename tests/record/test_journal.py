"""Durable jobs: the journal, resume after SIGKILL or SIGINT, and rebuilding the report."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from bulkdel import BulkDeleter, Settings
from bulkdel.errors import JournalMismatchError
from bulkdel.imagekit import DeleteClient
from bulkdel.models import Abort, AbortReason
from bulkdel.record.journal.journal import Journal, fingerprint
from bulkdel.testing import FakeImageKit
from tests.helpers import (
    KEY,
    MakeFake,
    MakeServed,
    ThreadedServer,
    check_ground_truth,
    check_report_dir,
    hex_ids,
    read_lines,
    run_cli,
)

FAST = {"backoff_base": 0.001, "backoff_max": 0.01}


def write_ids(path: Path, ids: list[str]) -> Path:
    path.write_text("".join(i + "\n" for i in ids))
    return path


def record_sent_ids(server: FakeImageKit) -> list[str]:
    """Install a middleware (before start) that logs every id the server is asked to delete."""
    sent: list[str] = []

    @web.middleware
    async def log_ids(request: web.Request, handler: object) -> web.StreamResponse:
        if request.method == "POST":
            body = await request.json()
            sent.extend(body.get("fileIds", []))
        return await handler(request)  # type: ignore[operator, no-any-return]

    server.app.middlewares.append(log_ids)
    return sent


def start_cli(source: Path, url: str, tmp_path: Path, name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY}
    return subprocess.Popen(
        [sys.executable, "-m", "bulkdel", "delete", str(source), "--base-url", url,
         "--journal", str(tmp_path / "job.journal"), "--report-dir", str(tmp_path / name),
         "--concurrency", "4"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(condition: object, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_resume_after_a_kill_completes_the_job(
    tmp_path: Path, sig: signal.Signals, make_served: MakeServed
) -> None:
    """Killed mid-run (SIGKILL, or SIGINT with exit 130), the same command with the same
    journal finishes the job; the final report covers every id and agrees with the server."""
    ids = hex_ids(12_000)
    source = write_ids(tmp_path / "ids.txt", ids)
    existing = [i for n, i in enumerate(ids) if n % 10]  # every 10th is missing
    threaded = make_served(existing=existing, rate=40)
    server = threaded.server
    first = start_cli(source, threaded.url, tmp_path, "r1")
    wait_for(lambda: server.stats.ids_deleted >= 2000)
    first.send_signal(sig)
    first.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert first.returncode == 130
        summary = check_report_dir(tmp_path / "r1")
        assert summary["counts"]["not_attempted"] > 0
    else:
        assert first.returncode == -signal.SIGKILL
    deleted_before = len(server.deleted)
    second = start_cli(source, threaded.url, tmp_path, "r2")
    _, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    summary = check_report_dir(tmp_path / "r2")
    check_ground_truth(tmp_path / "r2", server)
    counts = summary["counts"]
    assert counts["unique"] == 12_000 and counts["not_attempted"] == 0
    # Deletes applied while the first run was killed come back as 404s, so deleted.txt may
    # hold fewer than the server deleted; those are in missing (after retry), never lost.
    assert server.deleted == set(existing)
    assert summary["complete"] is True
    assert summary["journal"]["settled_earlier"] >= deleted_before - 4 * 100
    # Nothing the first run deleted is lost: each is deleted or missing in the final report.
    reported = set(read_lines(tmp_path / "r2" / "deleted.txt"))
    reported |= set(read_lines(tmp_path / "r2" / "missing.txt"))
    assert reported == set(ids)


async def test_a_resumed_run_sends_no_settled_id(tmp_path: Path) -> None:
    """Ids whose outcome the journal holds as final are never sent again on resume."""
    ids = hex_ids(6000)
    journal = tmp_path / "job.journal"
    server = FakeImageKit(KEY, existing=ids[::3] + ids[1::3])
    sent = record_sent_ids(server)
    async with server:
        settings = Settings(base_url=server.url, concurrency=2, **FAST)  # type: ignore[arg-type]
        first = BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "r1", journal=journal)

        async def stop_early() -> None:
            while first.counts.deleted < 1500:
                await asyncio.sleep(0.001)
            first.stop(Abort(AbortReason.INTERRUPTED, "test"))

        stopper = asyncio.create_task(stop_early())
        await first.run(ids)
        await stopper
        settled = set(read_lines(tmp_path / "r1" / "deleted.txt"))
        settled |= set(read_lines(tmp_path / "r1" / "missing.txt"))
        assert 0 < len(settled) < 6000
        sent.clear()
        second = BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "r2", journal=journal)
        report = await second.run(ids)
    assert not settled & set(sent), "a settled id was sent again"
    assert report.complete
    summary = check_report_dir(tmp_path / "r2")
    assert summary["counts"]["deleted"] == len(ids[::3] + ids[1::3])
    assert summary["journal"]["settled_earlier"] == len(settled)


async def test_ids_left_in_flight_and_then_missing_were_deleted_by_the_earlier_run(
    tmp_path: Path,
    make_fake: MakeFake,
) -> None:
    """An id the journal holds in flight that the server no longer knows is reported missing
    after retry: the earlier run most likely deleted it."""
    ids = hex_ids(50)
    path = tmp_path / "job.journal"
    journal = Journal.open(path, fingerprint(["<iterable>"], "http://127.0.0.1:1"))
    journal.not_attempted(ids)
    await journal.mark_in_flight(ids[:10])
    await journal.close()
    server = await make_fake(existing=ids[10:])
    settings = Settings(base_url="http://127.0.0.1:1", **FAST)  # type: ignore[arg-type]
    client = DeleteClient(KEY, base_url=server.url)
    deleter = BulkDeleter(settings=settings, sender=client, report_dir=tmp_path / "r", journal=path)
    report = await deleter.run(ids)
    await client.close()
    assert report.counts.deleted == 40
    assert set(read_lines(tmp_path / "r" / "missing_after_retry.txt")) == set(ids[:10])
    assert report.resumed is not None and report.resumed.in_flight_earlier == 10


def test_a_journal_of_another_input_is_refused(tmp_path: Path, served: ThreadedServer) -> None:
    """Resuming with a journal written for other input exits 2 and says why."""
    first = write_ids(tmp_path / "a.txt", hex_ids(10))
    other = write_ids(tmp_path / "b.txt", hex_ids(10, start=100))
    threaded = served
    server = threaded.server
    common = ["--base-url", threaded.url, "--journal", str(tmp_path / "j")]
    ok = run_cli(["delete", str(first), *common, "--report-dir", str(tmp_path / "r1")])
    assert ok.returncode == 0, ok.stderr
    deletes = server.stats.requests - server.stats.list_requests
    refused = run_cli(["delete", str(other), *common, "--report-dir", str(tmp_path / "r2")])
    assert server.stats.requests - server.stats.list_requests == deletes  # none sent
    assert refused.returncode == 2
    assert "belongs to another job" in refused.stderr
    assert "a.txt" in refused.stderr and "b.txt" in refused.stderr


def test_report_rebuilt_from_the_journal_alone(tmp_path: Path) -> None:
    """`bulkdel report --journal` rebuilds the same counts and lists as the run wrote."""
    ids = hex_ids(700)
    source = tmp_path / "ids.txt"
    source.write_text("".join(i + "\n" for i in ids) + "bad id\n" + ids[0] + "\n")
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids[:600]))
    with threaded:
        run = run_cli(
            ["delete", str(source), "--base-url", threaded.url, "--journal",
             str(tmp_path / "j"), "--report-dir", str(tmp_path / "r1"), "--json"]
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rebuilt = run_cli(
        ["report", "--journal", str(tmp_path / "j"), "--report-dir", str(tmp_path / "r2"),
         "--json"]
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    original = json.loads(run.stdout)
    again = check_report_dir(tmp_path / "r2")
    assert again["counts"] == original["counts"]
    assert again["complete"] is True
    for name in ("deleted.txt", "missing.txt", "invalid.jsonl", "duplicates.txt"):
        assert sorted(read_lines(tmp_path / "r1" / name)) == sorted(
            read_lines(tmp_path / "r2" / name)
        ), name


async def test_journal_mismatch_is_refused_by_the_library(tmp_path: Path) -> None:
    """Opening a journal for another input raises JournalMismatchError naming both inputs."""
    a = write_ids(tmp_path / "a.txt", hex_ids(3))
    b = write_ids(tmp_path / "b.txt", hex_ids(4))
    path = tmp_path / "j"
    journal = Journal.open(path, fingerprint([str(a)], "http://127.0.0.1:9"))
    await journal.close()
    with pytest.raises(JournalMismatchError, match=r"a\.txt.*b\.txt"):
        Journal.open(path, fingerprint([str(b)], "http://127.0.0.1:9"))
    again = Journal.open(path, fingerprint([str(a)], "http://127.0.0.1:9"))
    assert again.resumed
    await again.close()


async def test_batches_queued_but_never_sent_are_not_left_in_flight(tmp_path: Path) -> None:
    """Batches are marked in flight as they are queued; when the run stops, those no worker
    sent are landed, so only the batch whose request went out stays in flight."""
    from bulkdel.models import Kind, Outcome
    from bulkdel.record.journal.schema import IN_FLIGHT, PENDING, read_journal

    sent: list[list[str]] = []

    class Refuses:
        async def delete_batch(self, file_ids: list[str]) -> Outcome:
            sent.append(file_ids)
            return Outcome(Kind.FATAL, 401, message="no")

    ids = hex_ids(200)
    path = tmp_path / "job.journal"
    settings = Settings(base_url="http://127.0.0.1:1", concurrency=1, batch_size=10, **FAST)  # type: ignore[arg-type]
    deleter = BulkDeleter(settings=settings, sender=Refuses(), journal=path)
    report = await deleter.run(ids)
    assert report.counts.not_attempted == 200 and len(sent) == 1
    states = {row[0]: row[1] for kind, row in read_journal(path) if kind == "id"}
    assert {i for i, state in states.items() if state == IN_FLIGHT} == set(sent[0])
    assert {i for i, state in states.items() if state == PENDING} == set(ids) - set(sent[0])
