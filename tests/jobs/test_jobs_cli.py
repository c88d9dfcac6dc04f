"""``bulkdel job ...`` in-process, and the pipeline-backed processor of a worker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bulkdel import cli
from bulkdel.imagekit import DeleteClient
from bulkdel.jobs import PipelineProcessor, Submitter, Worker, connect
from bulkdel.models import AbortReason, Settings
from bulkdel.testing import FakeImageKit, Faults, seed_files
from tests.helpers import KEY, ThreadedServer, check_report_dir, hex_ids, read_lines
from tests.jobs.helpers import chunks
from tests.redis_server import RedisServer


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


def _settings(url: str) -> Settings:
    return Settings(base_url=url, allow_insecure_http=True, backoff_base=0.001)


async def test_processor_classifies_as_delete_does(tmp_path: Path) -> None:
    """404 re-send, 207 failures and the in-flight-earlier rule come from the pipeline."""
    values = hex_ids(300)
    existing = [v for n, v in enumerate(values) if n % 3]
    faults = Faults(permanent_errors=frozenset(values[1:3]))
    async with FakeImageKit(KEY, existing=existing, faults=faults) as server:
        client = DeleteClient(KEY, base_url=server.url, allow_insecure_http=True)
        async with PipelineProcessor(client, _settings(server.url)) as processor:
            first = await processor.process(values[:100], False)
            again = await processor.process(values[:100], True)
            earlier = await processor.process(values[100:200], True)
        await client.close()
    assert first is not None and again is not None and earlier is not None
    assert len(first.missing) == 34 and not first.missing_after_retry
    assert [f[0] for f in first.failed] == values[1:3]
    assert len(first.deleted) == 100 - 34 - 2 and len(first) == 100
    assert len(again.missing_after_retry) == 98 and not again.deleted
    assert len(earlier.missing_after_retry) == 33 and len(earlier.deleted) == 67
    assert processor.requests.sent >= 6 and processor.abort is None


async def test_fatal_answer_stops_the_worker_and_leaves_the_batch(redis: Any) -> None:
    """A 403 stops the worker with the reason; the batch stays pending for others."""
    await Submitter(redis, "f").submit(chunks(hex_ids(200)), "fp")
    async with FakeImageKit("another key") as server:
        client = DeleteClient(KEY, base_url=server.url, allow_insecure_http=True)
        async with PipelineProcessor(client, _settings(server.url)) as processor:
            result = await Worker(redis, "f", processor, block=0.05).run()
            assert await processor.process(hex_ids(1), False) is None
        await client.close()
    assert result.aborted is not None and "403" in str(result.aborted) and not result.finished
    assert result.aborted.reason is AbortReason.FATAL
    status = await redis.xpending("bulkdel:job:{f}:batches", "workers")
    assert status["pending"] >= 1


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> None:
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.setenv("BULKDEL_REDIS_URL", redis_server.url)
    monkeypatch.delenv("IMAGE_KIT_BASE_URL", raising=False)


@pytest.mark.usefixtures("job_env")
def test_cli_submit_worker_status_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "ids.txt"
    source.write_text("\n".join([*hex_ids(450), *hex_ids(5), "no good"]) + "\n")
    with ThreadedServer(FakeImageKit(KEY)) as threaded:
        url = ["--base-url", threaded.url, "--allow-insecure-http"]
        assert cli.main(["job", "submit", str(source), "--job", "c", *url]) == 0
        assert cli.main(["job", "status", "c"]) == 0
        assert "pending 450" in capsys.readouterr().out
        assert cli.main(["job", "worker", "--job", "c", "--name", "w", *url]) == 0
        assert "job finished" in capsys.readouterr().err
        assert cli.main(["job", "status", "c", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["finished"] and status["workers"]["w"]["deleted"] == 450
        assert cli.main(["job", "status", "c"]) == 0
        assert "worker w: batches 5" in capsys.readouterr().out
        report_dir = tmp_path / "report"
        assert cli.main(["job", "report", "c", "--report-dir", str(report_dir)]) == 0
        summary = check_report_dir(report_dir)
        assert summary["counts"]["deleted"] == 450 and summary["counts"]["invalid"] == 1
        assert set(read_lines(report_dir / "deleted.txt")) == threaded.deleted
        assert cli.main(["job", "report", "c", "--report-dir", str(report_dir), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["complete"]
        capsys.readouterr()
        # a finished job is not cancelled: refused, and its report stays complete
        assert cli.main(["job", "cancel", "--job", "c"]) == 2
        assert "is finished: nothing to cancel" in capsys.readouterr().err
        assert cli.main(["job", "report", "--job", "c", "--report-dir", str(report_dir)]) == 0
        assert check_report_dir(report_dir)["complete"]


@pytest.mark.usefixtures("job_env")
def test_cli_worker_with_a_wrong_key_takes_no_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The worker's preflight: a refused key exits 3 before a batch is taken or sent."""
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(hex_ids(300)) + "\n")
    with ThreadedServer(FakeImageKit("the server's own key")) as threaded:
        url = ["--base-url", threaded.url, "--allow-insecure-http"]
        assert cli.main(["job", "submit", str(source), "--job", "k", *url]) == 0
        assert cli.main(["job", "worker", "--job", "k", *url]) == 3
        assert "403" in capsys.readouterr().err
        assert cli.main(["job", "status", "k", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert threaded.stats.requests == 1  # the preflight's listing page, no delete
    assert status["counts"]["pending"] == 300 and not status["workers"]


@pytest.mark.usefixtures("job_env")
def test_cli_submit_from_a_listing(tmp_path: Path) -> None:
    """A selector is a submit source; a partly submitted listing job cannot be resumed."""
    files = seed_files({"/a/": 120, "/b/": 30})
    with ThreadedServer(FakeImageKit(KEY, files=files)) as threaded:
        url = ["--base-url", threaded.url, "--allow-insecure-http"]
        assert cli.main(["job", "submit", "--path", "/a/", "--job", "s", *url]) == 0
        assert cli.main(["job", "worker", "--job", "s", *url]) == 0
        report_dir = tmp_path / "report"
        assert cli.main(["job", "report", "s", "--report-dir", str(report_dir)]) == 0
        assert check_report_dir(report_dir)["counts"]["deleted"] == 120
        assert len(threaded.deleted) == 120
        both = ["job", "submit", str(tmp_path / "x"), "--path", "/a/", "--job", "s2", *url]
        assert cli.main(both) == 2


async def test_listing_job_cannot_resume(redis: Any) -> None:
    async def broken() -> Any:
        async for chunk in chunks(hex_ids(250), size=50):
            yield chunk
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        await Submitter(redis, "L").submit(broken(), "fp", resumable=False)
    with pytest.raises(Exception, match="cannot be read again"):
        await Submitter(redis, "L").submit(chunks(hex_ids(250)), "fp", resumable=False)


def test_cli_errors(
    monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BULKDEL_REDIS_URL", raising=False)
    assert cli.main(["job", "status", "x"]) == 2
    assert "--redis" in capsys.readouterr().err
    redis_url = ["--redis", redis_server.url]
    assert cli.main(["job", "status", "x", *redis_url]) == 3
    assert cli.main(["job", "cancel", "x", *redis_url]) == 3
    assert cli.main(["job", "status", "bad name!", *redis_url]) == 2
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    worker = ["job", "worker", "--job", "x", "--base-url", "http://127.0.0.1:9", *redis_url]
    assert cli.main([*worker, "--allow-insecure-http"]) == 3  # the preflight: nothing listens
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main([*worker, "--allow-insecure-http", "--concurrency", "0"])
    assert exited.value.code == 2


async def test_stop_leaves_unsent_batches_pending(redis: Any) -> None:
    """A stopped worker settles what it finished; the rest stays for other workers."""
    await Submitter(redis, "s").submit(chunks(hex_ids(3000)), "fp")
    async with FakeImageKit(KEY, rate=20) as server:
        client = DeleteClient(KEY, base_url=server.url, allow_insecure_http=True)
        settings = Settings(base_url=server.url, allow_insecure_http=True, rate=20)
        async with PipelineProcessor(client, settings) as processor:
            worker = Worker(redis, "s", processor, block=0.05)
            task = asyncio.create_task(worker.run())
            while processor.requests.sent < 2:
                await asyncio.sleep(0.01)
            worker.stop()
            processor.stop()
            result = await task
        await client.close()
    assert not result.finished and result.batches >= 1
    assert await redis.xlen("bulkdel:job:{s}:batches") == 30 - result.batches
