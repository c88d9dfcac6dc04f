"""Distributed jobs against a real, private redis-server: submit, settle, claim, report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bulkdel.jobs import (
    JobGoneError,
    Submitter,
    Worker,
    cancel_job,
    connect,
    delete_job,
    job_report,
    job_status,
)
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.jobs.scripts import HEARTBEAT, SETTLE
from bulkdel.models import Chunk
from tests.jobs.helpers import StandIn, chunks, ids
from tests.redis_server import RedisServer


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


async def _submit(redis: Any, job: str, values: list[str], **options: Any) -> Any:
    return await Submitter(redis, job, **options).submit(chunks(values), "fp")


def _lines(path: Path) -> list[str]:
    return path.read_text().split()


async def test_submit_workers_report(redis: Any, tmp_path: Path) -> None:
    """Every unique id is settled once; the report has the two equalities and the live
    counters agree with the merged outcomes."""
    values = ids(1050)
    result = await _submit(redis, "j", [*values, *values[:7], "bad id"], batch_size=100)
    assert result.complete and result.batches == 11
    processors = [StandIn(), StandIn()]
    processors[0].missing = set(values[:5])
    workers = [Worker(redis, "j", p, block=0.05) for p in processors]
    results = await asyncio.gather(*(w.run() for w in workers))
    assert all(r.finished for r in results)
    assert sum(r.batches for r in results) == 11
    report = await job_report(redis, "j", tmp_path / "report")
    c = report.counts
    assert (c.read, c.invalid, c.duplicate, c.unique) == (1058, 1, 7, 1050)
    assert c.deleted + c.missing == 1050 and c.balanced() and report.complete
    assert (
        sorted(
            _lines(tmp_path / "report" / "deleted.txt")
            + _lines(tmp_path / "report" / "missing.txt")
        )
        == values
    )
    assert _lines(tmp_path / "report" / "duplicates.txt") == values[:7]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["job"]["live_counts_agree"] and summary["complete"]
    assert summary["requests"]["sent"] == 11 and summary["elapsed_s"] > 0
    status = await job_status(redis, "j")
    assert status.finished and sum(w["batches"] for w in status.workers.values()) == 11
    assert await delete_job(redis, "j") > 0
    with pytest.raises(JobGoneError, match="appendonly yes"):
        await job_status(redis, "j")


async def _broken(values: list[str], after: int) -> AsyncIterator[Chunk]:
    async for chunk in chunks(values[:after], size=50):
        yield chunk
    raise RuntimeError("submitter killed")


async def test_resubmitting_the_same_input_resumes(redis: Any) -> None:
    """A submitter that died after some batches is resumed: each id is on the stream once,
    and the counts are those of one whole read."""
    values = [*ids(500), *ids(20)]  # 20 repeats at the end
    submitter = Submitter(redis, "r", batch_size=100)
    with pytest.raises(RuntimeError):
        await submitter.submit(_broken(values, 250), "fp")
    keys = JobKeys.of("r")
    assert await redis.xlen(keys.batches) == 2  # whole batches only; 50 ids not committed
    with pytest.raises(Exception, match="another input"):
        await Submitter(redis, "r").submit(chunks(values), "other")
    again = await Submitter(redis, "r", batch_size=100).submit(chunks(values), "fp")
    assert again.resumed_at == 200 and again.complete
    entries = await redis.xrange(keys.batches)
    on_stream = [i for _, fields in entries for i in fields["ids"].split()]
    assert sorted(on_stream) == ids(500)
    counts = (await job_status(redis, "r")).counts
    assert (counts.read, counts.unique, counts.duplicate) == (520, 500, 20)
    done = await Submitter(redis, "r").submit(chunks(values), "fp")
    assert done.complete and done.batches == 0


async def test_backpressure_bounds_open_batches(redis: Any) -> None:
    """The stream never holds more than max_open unsettled batches."""
    keys = JobKeys.of("b")
    seen: list[int] = []

    class Watching(StandIn):
        async def process(self, file_ids: list[str], in_flight_earlier: bool) -> Any:
            seen.append(await redis.xlen(keys.batches))
            return await super().process(file_ids, in_flight_earlier)

    submit = asyncio.create_task(_submit(redis, "b", ids(2000), batch_size=50, max_open=3))
    while not await redis.exists(keys.meta):
        await asyncio.sleep(0.01)
    result = await Worker(redis, "b", Watching(), capacity=1, block=0.05).run()
    assert (await submit).complete and result.finished
    assert len(seen) == 40 and max(seen) <= 3


async def _one_batch(redis: Any, job: str, values: list[str]) -> str:
    await _submit(redis, job, values)
    keys = JobKeys.of(job)
    answer = await redis.xreadgroup(GROUP, "A", {keys.batches: ">"}, count=1)
    entry_id: str = answer[0][1][0][0]
    # B takes it over (what XAUTOCLAIM does after the visibility timeout)
    await redis.xclaim(keys.batches, GROUP, "B", 0, [entry_id])
    return entry_id


async def _settle(redis: Any, job: str, entry: str, worker: str, **outcome: Any) -> int:
    keys = JobKeys.of(job)
    script = redis.register_script(SETTLE)
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
    keys_ = [keys.meta, keys.batches, keys.counts, keys.results, keys.marks, keys.workers]
    keys_.append(keys.settled)
    return int(await script(keys=keys_, args=args))


async def test_late_deleted_wins_over_missing_and_failed(redis: Any, tmp_path: Path) -> None:
    """B settles on time (missing, failed); A's late settle says deleted: deleted wins, in
    the live counts and in the report, and nothing is counted twice."""
    a, b, c, d = ids(4)
    entry = await _one_batch(redis, "l", [a, b, c, d])
    on_time = await _settle(
        redis, "l", entry, "B", earlier="1", r=[a], m=[b], f=[[c, "locked", 207, 1]], d=[d]
    )
    assert on_time == 1
    late = await _settle(redis, "l", entry, "A", d=[a, b, c, d])
    assert late == 0
    status = await job_status(redis, "l")
    counts = status.counts
    assert (counts.deleted, counts.missing, counts.missing_after_retry, counts.failed) == (
        4,
        0,
        0,
        0,
    )
    assert status.workers["A"]["late"] == 1 and status.requests["sent"] == 2
    report = await job_report(redis, "l", tmp_path / "report")
    assert sorted(_lines(tmp_path / "report" / "deleted.txt")) == [a, b, c, d] and report.complete
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["job"][
        "live_counts_agree"
    ]


async def test_late_missing_is_not_recorded(redis: Any, tmp_path: Path) -> None:
    """A late settle records only deleted ids: its missing ones change nothing."""
    a, b = ids(2)
    entry = await _one_batch(redis, "m", [a, b])
    assert await _settle(redis, "m", entry, "A", d=[a, b]) == 1
    assert await _settle(redis, "m", entry, "B", earlier="1", r=[a, b]) == 0
    counts = (await job_status(redis, "m")).counts
    assert (counts.deleted, counts.missing) == (2, 0)
    report = await job_report(redis, "m", tmp_path / "report")
    assert report.counts.deleted == 2 and report.complete


async def test_heartbeat_keeps_own_batches_and_gives_up_lost_ones(redis: Any) -> None:
    """XCLAIM JUSTID resets the idle time of the worker's own batch without raising its
    delivery count; a batch another worker took is reported lost and not taken back."""
    await _submit(redis, "h", ids(200))
    keys = JobKeys.of("h")
    answer = await redis.xreadgroup(GROUP, "A", {keys.batches: ">"}, count=2)
    mine, theirs = (entry[0] for entry in answer[0][1])
    await redis.xclaim(keys.batches, GROUP, "A", 0, [mine], idle=600_000, justid=True)
    await redis.xclaim(keys.batches, GROUP, "B", 0, [theirs])
    beat = redis.register_script(HEARTBEAT)
    result = await beat(
        keys=[keys.meta, keys.batches, keys.workers], args=[GROUP, "A", mine, theirs]
    )
    assert result == ["submitted", theirs]
    pending = {
        p["message_id"]: p for p in await redis.xpending_range(keys.batches, GROUP, "-", "+", 10)
    }
    assert pending[mine]["consumer"] == "A" and pending[mine]["times_delivered"] == 1
    assert pending[mine]["time_since_delivered"] < 600_000
    assert pending[theirs]["consumer"] == "B"


async def test_dead_workers_batches_are_taken_over(redis: Any, tmp_path: Path) -> None:
    """A worker that dies holding batches loses them after the visibility timeout; the
    taker sends them as in flight earlier, and every id is settled once."""
    values = ids(300)
    await _submit(redis, "d", values)
    dying = StandIn(gate=asyncio.Event())  # never opens: the worker hangs, then dies
    first = Worker(redis, "d", dying, capacity=2, block=0.05, visibility_timeout=0.3)
    task = asyncio.create_task(first.run())
    await dying.started.wait()
    task.cancel()  # no settle, no more heartbeats: like kill -9
    with pytest.raises(asyncio.CancelledError):
        await task
    taker = StandIn()
    taker.missing = set(values[:3])  # the dead worker's request had deleted them
    result = await Worker(redis, "d", taker, block=0.05, visibility_timeout=0.3).run()
    assert result.finished and result.claimed == 2
    earlier = {i for batch, flag in taker.calls if flag for i in batch}
    assert set(values[:3]) <= earlier
    report = await job_report(redis, "d", tmp_path / "report")
    assert report.complete and report.counts.missing_after_retry == 3
    assert report.counts.deleted == 297


async def test_cancel_stops_workers_and_report_says_not_attempted(
    redis: Any, tmp_path: Path
) -> None:
    await _submit(redis, "c", ids(1000))
    gate = asyncio.Event()
    processor = StandIn(gate=gate)
    worker = Worker(redis, "c", processor, capacity=2, block=0.05, visibility_timeout=0.4)
    task = asyncio.create_task(worker.run())
    await processor.started.wait()
    await cancel_job(redis, "c")
    while not worker.stop_signal.is_set:  # the heartbeat brings the news
        await asyncio.sleep(0.02)
    gate.set()
    result = await task
    assert result.cancelled and not result.finished and result.batches == 2
    report = await job_report(redis, "c", tmp_path / "report")
    assert report.aborted == "stopped: job cancelled" and not report.complete
    assert report.counts.deleted == 200 and report.counts.not_attempted == 800
    assert report.counts.balanced()
    with pytest.raises(Exception, match="cancelled"):
        await _submit(redis, "c", ids(1000))
    with pytest.raises(JobGoneError):
        await cancel_job(redis, "nope")


async def test_worker_on_a_job_not_submitted_yet_waits_for_it(redis: Any) -> None:
    """A job not in Redis yet is waited for (said once), not "gone": workers may stand
    before their jobs; it is worked once submitted."""
    waits: list[int] = []
    processor = StandIn()
    worker = Worker(redis, "later", processor, block=0.05, on_wait=lambda: waits.append(1))
    task = asyncio.create_task(worker.run())
    while not waits:
        await asyncio.sleep(0.01)
    await _submit(redis, "later", ids(300))
    result = await task
    assert result.finished and waits == [1] and result.batches == 3


async def test_redis_restarted_without_persistence(redis_server: RedisServer) -> None:
    """The job is gone after the restart: the worker stops with the error, never
    'finished', and nothing is settled."""
    redis = connect(redis_server.url)
    try:
        await _submit(redis, "p", ids(300))
        gate = asyncio.Event()
        processor = StandIn(gate=gate)
        task = asyncio.create_task(Worker(redis, "p", processor, block=0.05).run())
        await processor.started.wait()
        redis_server.stop()
        redis_server.start()
        gate.set()
        with pytest.raises(JobGoneError, match="restarted without persistence"):
            await task
    finally:
        await redis.aclose()


async def test_redis_down_for_a_while_with_persistence(
    persistent_redis_server: RedisServer, tmp_path: Path
) -> None:
    """Workers wait for Redis and go on; every id is settled once."""
    redis = connect(persistent_redis_server.url)
    try:
        await _submit(redis, "w", ids(500))
        gate = asyncio.Event()
        processor = StandIn(gate=gate)
        task = asyncio.create_task(Worker(redis, "w", processor, capacity=2, block=0.05).run())
        await processor.started.wait()
        persistent_redis_server.stop()
        gate.set()  # the settles find Redis down, and wait
        await asyncio.sleep(0.5)
        persistent_redis_server.start()
        result = await task
        assert result.finished
        report = await job_report(redis, "w", tmp_path / "report")
        assert report.complete and report.counts.deleted == 500
    finally:
        await redis.aclose()


async def test_report_lists_failures_and_unsettled_batches(redis: Any, tmp_path: Path) -> None:
    """Failed ids keep their record; a batch a worker took and never settled fails as
    outcome unknown; one never taken is not attempted; the equalities hold."""
    values = ids(300)
    await _submit(redis, "u", values)
    keys = JobKeys.of("u")
    answer = await redis.xreadgroup(GROUP, "A", {keys.batches: ">"}, count=2)
    (first, _), (_, fields) = answer[0][1]
    failure = [values[0], "File is locked", 207, 6]
    assert await _settle(redis, "u", first, "A", d=values[1:100], f=[failure]) == 1
    await cancel_job(redis, "u")
    report = await job_report(redis, "u", tmp_path / "report")
    c = report.counts
    assert (c.deleted, c.failed, c.not_attempted) == (99, 101, 100) and c.balanced()
    failed = [
        json.loads(line) for line in (tmp_path / "report" / "failed.jsonl").read_text().splitlines()
    ]
    assert failed[0] == {
        "fileId": values[0],
        "error": "File is locked",
        "status": 207,
        "attempts": 6,
    }
    assert {f["fileId"] for f in failed[1:]} == set(fields["ids"].split())
    assert "outcome unknown" in failed[1]["error"] and report.exit_code == 1


async def test_cancel_while_submitting(redis: Any) -> None:
    """A submitter waiting for room on a full stream stops when the job is cancelled."""
    submit = asyncio.create_task(_submit(redis, "x", ids(1000), max_open=2))
    keys = JobKeys.of("x")
    while await redis.xlen(keys.batches) < 2:
        await asyncio.sleep(0.01)
    await cancel_job(redis, "x")
    result = await submit
    assert result.cancelled and not result.complete and result.batches == 2


async def test_invalid_and_repeated_ids_are_committed_without_batches(
    redis: Any, tmp_path: Path
) -> None:
    """Long stretches of bad input are committed in their own steps (and resumed past)."""
    values = [*(f"bad id {n}" for n in range(1500)), *ids(50), *(ids(50) * 24)]
    result = await _submit(redis, "i", values)
    assert result.complete and result.batches == 1
    again = await Submitter(redis, "i").submit(chunks(values), "fp")
    assert again.complete and again.batches == 0
    counts = (await job_status(redis, "i")).counts
    assert (counts.read, counts.invalid, counts.duplicate, counts.unique) == (2750, 1500, 1200, 50)
    with pytest.raises(Exception, match="batch_size"):
        Submitter(redis, "i", batch_size=101)


async def test_redis_calls_retry_while_unreachable_and_raise_other_errors() -> None:
    """Unreachable (or still loading its AOF): waited for; any other error: raised."""
    from redis.exceptions import BusyLoadingError, ResponseError

    from bulkdel.core.stop import StopSignal
    from bulkdel.jobs import redisio

    keys = JobKeys.of("r")
    answers: list[Any] = [BusyLoadingError("loading"), ConnectionError("down"), "ok"]

    async def flaky() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    from bulkdel.core.redis_connection import RedisWait

    wait = RedisWait("redis://h:1/0", base=0.001)
    assert await redisio.call(keys, flaky, StopSignal(), wait=wait) == "ok"

    async def wrong() -> None:
        raise ResponseError("WRONGTYPE Operation against a key holding the wrong kind")

    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await redisio.call(keys, wrong, StopSignal(), wait=wait)
