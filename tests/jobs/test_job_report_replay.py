"""``job report`` replays Redis's outcomes into the ledger and report writer of ``delete``
(as a journal rebuild replays a journal): one unknown-outcome constant, an id settled twice
lands once in its true bucket, and the input records are those of the snapshot."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bulkdel.jobs import Submitter, cancel_job, connect, job_report
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.jobs.scripts import SETTLE
from bulkdel.models import INTERRUPTED_UNKNOWN
from tests.helpers import check_report_dir, read_jsonl, read_lines
from tests.jobs.helpers import chunks, ids
from tests.redis_server import RedisServer


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


async def _settle(redis: Any, job: str, entry: str, worker: str, **outcome: Any) -> int:
    keys = JobKeys.of(job)
    args = [
        GROUP,
        entry,
        worker,
        outcome.get("earlier", "0"),
        " ".join(outcome.get("d", [])),
        " ".join(outcome.get("m", [])),
        " ".join(outcome.get("r", [])),
        json.dumps(outcome.get("f", [])),
        1,
        0,
        "{}",
    ]
    names = ("meta", "batches", "counts", "results", "marks", "workers", "settled")
    script = redis.register_script(SETTLE)
    return int(await script(keys=[getattr(keys, n) for n in names], args=args))


async def test_a_held_batch_fails_with_the_one_unknown_outcome(redis: Any, tmp_path: Path) -> None:
    """Fails before: the job report had its own "outcome unknown" text; a batch a worker
    holds unsettled now fails with the run's (``INTERRUPTED_UNKNOWN``), as a journal
    rebuild's in-flight ids do."""
    values = ids(200)
    await Submitter(redis, "u").submit(chunks(values), "fp")
    keys = JobKeys.of("u")
    answer = await redis.xreadgroup(GROUP, "A", {keys.batches: ">"}, count=1)
    held = answer[0][1][0][1]["ids"].split()
    await cancel_job(redis, "u")
    report = await job_report(redis, "u", tmp_path / "report")
    check_report_dir(tmp_path / "report")
    failed = read_jsonl(tmp_path / "report" / "failed.jsonl")
    assert {f["fileId"] for f in failed} == set(held)
    assert {f["error"] for f in failed} == {INTERRUPTED_UNKNOWN}
    assert report.counts.not_attempted == 100 and not report.complete


async def test_an_id_settled_twice_lands_once_and_deleted_wins(redis: Any, tmp_path: Path) -> None:
    """A batch Redis forgot (settled under an entry the stream no longer has) and the same
    ids settled again as a batch in flight earlier: each id is in one bucket, deleted over
    missing after retry, whichever settle came first."""
    a, b, c = ids(3)
    await Submitter(redis, "t").submit(chunks([a, b, c]), "fp")
    keys = JobKeys.of("t")
    answer = await redis.xreadgroup(GROUP, "B", {keys.batches: ">"}, count=1)
    entry = answer[0][1][0][0]
    assert await _settle(redis, "t", "1-1", "A", d=[a, b]) == 1  # a batch Redis forgot
    assert await _settle(redis, "t", entry, "B", earlier="1", r=[a, b], m=[c]) == 1
    report = await job_report(redis, "t", tmp_path / "report")
    assert sorted(read_lines(tmp_path / "report" / "deleted.txt")) == [a, b]
    assert read_lines(tmp_path / "report" / "missing.txt") == [c]
    assert report.counts.deleted == 2 and report.counts.missing == 1
    # the live counts saw both settles: the report's replay is what adds up
    summary = check_report_dir(tmp_path / "report")
    assert summary["counts"]["unique"] == 3


async def test_the_report_replays_the_input_records(redis: Any, tmp_path: Path) -> None:
    """Invalid and repeated ids go through the ledger, as ``delete`` records them."""
    values = ids(120)
    await Submitter(redis, "i").submit(chunks([*values, "bad id", *values[:3]]), "fp")
    await cancel_job(redis, "i")
    report = await job_report(redis, "i", tmp_path / "report")
    c = report.counts
    assert (c.read, c.invalid, c.duplicate, c.unique, c.not_attempted) == (124, 1, 3, 120, 120)
    assert read_lines(tmp_path / "report" / "duplicates.txt") == values[:3]
    assert [r["value"] for r in read_jsonl(tmp_path / "report" / "invalid.jsonl")] == ["bad id"]
