"""A job keeps its files' records as ``delete`` does: in Redis with the first batch that may
delete them, and in ``manifest.jsonl`` from ``job report``, which ``purge`` then follows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkdel import cli
from bulkdel.jobs import Submitter, connect
from bulkdel.jobs.redis_keys import JobKeys
from bulkdel.models import Chunk
from bulkdel.record.manifest import IDS_ONLY, read_manifest
from bulkdel.testing import seed_files
from tests.helpers import (
    KEY,
    MakeServed,
    ThreadedServer,
    check_report_dir,
    hex_ids,
    read_lines,
    write_ids,
)
from tests.redis_server import RedisServer

ENDPOINT = "https://ik.imagekit.io/fake"


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> Iterator[None]:
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.setenv("BULKDEL_REDIS_URL", redis_server.url)
    monkeypatch.delenv("IMAGEKIT_URL_ENDPOINT", raising=False)
    monkeypatch.delenv("IMAGE_KIT_BASE_URL", raising=False)
    yield


def _records(count: int) -> list[dict[str, Any]]:
    return [
        {"fileId": v, "filePath": f"/a/{n}.jpg", "size": n} for n, v in enumerate(hex_ids(count))
    ]


async def _chunks(records: list[dict[str, Any]], size: int = 70) -> AsyncIterator[Chunk]:
    """A JSONL input: each chunk's items and the records they came with."""
    for at in range(0, len(records), size):
        part = records[at : at + size]
        items = [(at + n + 1, r["fileId"], None) for n, r in enumerate(part)]
        yield Chunk("files.jsonl", items, part)


async def test_every_batch_on_the_stream_has_its_records_in_redis(
    redis_server: RedisServer,
) -> None:
    """Fails before the fix: the submitter dropped the records (no manifest list)."""
    redis = connect(redis_server.url)
    try:
        records = _records(450)
        # the stream never holds more than 2 batches: each commit is checked as it lands
        await Submitter(redis, "m", max_open=1000).submit(_chunks(records), "fp")
        keys = JobKeys.of("m")
        listed = "".join(await redis.lrange(keys.manifest, 0, -1))
        in_redis = [json.loads(line)["fileId"] for line in listed.splitlines()]
        entries = await redis.xrange(keys.batches)
    finally:
        await redis.aclose()
    assert sorted(in_redis) == sorted(r["fileId"] for r in records)
    assert sorted(i for _, fields in entries for i in fields["ids"].split()) == sorted(in_redis)


@pytest.mark.usefixtures("job_env")
def test_a_selector_jobs_report_has_its_manifest_and_purge_follows_it(
    tmp_path: Path, make_served: MakeServed
) -> None:
    """Fails before the fix: no manifest.jsonl, and purge had no URL to purge."""
    files = seed_files({"/a/": 120, "/b/": 30})
    threaded = make_served(files=files)
    server = threaded.server
    url = ["--base-url", threaded.url, "--allow-insecure-http"]
    assert cli.main(["job", "submit", "--path", "/a/", "--job", "s", "--yes", *url]) == 0
    assert cli.main(["job", "worker", "--job", "s", *url]) == 0
    report = tmp_path / "report"
    assert cli.main(["job", "report", "s", "--report-dir", str(report)]) == 0
    summary = check_report_dir(report)
    manifest = list(read_manifest(report / "manifest.jsonl"))
    assert summary["manifest"] == {"file": "manifest.jsonl", "records": 120, "note": None}
    assert {r["fileId"] for r in manifest} == set(read_lines(report / "deleted.txt"))
    assert all(r["filePath"].startswith("/a/") for r in manifest)
    server.purge.pending_polls = 0
    purge = ["purge", str(report), "--mode", "files", "--purge-limit", "200"]
    assert cli.main([*purge, *url, "--url-endpoint", ENDPOINT]) == 0
    purged = set(server.purge.purged)
    assert purged == {r["url"] for r in manifest}
    assert len(purged) == 120


@pytest.mark.usefixtures("job_env")
def test_a_job_of_bare_ids_says_its_report_holds_ids_only(
    tmp_path: Path, served: ThreadedServer
) -> None:
    threaded = served.server
    url = ["--base-url", threaded.url, "--allow-insecure-http"]
    source = write_ids(tmp_path / "ids.txt", hex_ids(50))
    assert cli.main(["job", "submit", str(source), "--job", "ids", *url]) == 0
    assert cli.main(["job", "worker", "--job", "ids", *url]) == 0
    report = tmp_path / "report"
    assert cli.main(["job", "report", "ids", "--report-dir", str(report)]) == 0
    assert check_report_dir(report)["manifest"] == {"file": None, "records": 0, "note": IDS_ONLY}
    assert not (report / "manifest.jsonl").exists()
