"""``job report`` reads Redis a page at a time: no reply holds a whole list of the job's ids.
Checked on a real Redis that drops any client a reply of more than 1 MiB would be sent to
(``client-output-buffer-limit``), with a job whose open batches hold 1.5 MB of ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bulkdel.jobs import Submitter, cancel_job, connect, job_report, job_status
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.models import INTERRUPTED_UNKNOWN
from tests.helpers import check_report_dir, read_jsonl
from tests.jobs.helpers import chunks, ids
from tests.redis_server import RedisServer

COUNT = 60_000
LIMIT = 1024 * 1024


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


async def test_a_report_of_open_batches_reads_them_a_page_at_a_time(
    redis: Any, tmp_path: Path
) -> None:
    """Fails before: the snapshot returned every open batch's ids in one reply (1.5 MB
    here), which Redis refused to send. Now the open batches are copied in the server
    and read in pages; the copy and the marker are gone afterwards."""
    values = ids(COUNT)
    await Submitter(redis, "o").submit(chunks([*values, "bad id", *values[:5]], 1000), "fp")
    keys = JobKeys.of("o")
    answer = await redis.xreadgroup(GROUP, "A", {keys.batches: ">"}, count=3)
    held = {i for _, fields in answer[0][1] for i in fields["ids"].split()}
    await cancel_job(redis, "o")
    keys_before = sorted(await redis.keys("*"))
    await redis.config_set("client-output-buffer-limit", f"normal {LIMIT} {LIMIT} 0")
    status = await job_status(redis, "o")
    assert (status.open_batches, status.in_flight) == (COUNT // 100, 3)
    report = await job_report(redis, "o", tmp_path / "report")
    check_report_dir(tmp_path / "report")
    c = report.counts
    assert (c.read, c.invalid, c.duplicate, c.unique) == (COUNT + 6, 1, 5, COUNT)
    assert (c.failed, c.not_attempted) == (300, COUNT - 300)
    failed = read_jsonl(tmp_path / "report" / "failed.jsonl")
    assert {f["fileId"] for f in failed} == held
    assert {f["error"] for f in failed} == {INTERRUPTED_UNKNOWN}
    assert sorted(await redis.keys("*")) == keys_before
    assert await redis.xlen(keys.results) == 0
