"""A big job's footprint: Redis bytes an id after the job, and ``job report``'s peak RSS.

``python -m benchmarks.job_report_memory [IDS]`` (default 1,000,000), against a private
``redis-server`` on a free port:

* a warm-up job of 100 ids is run and deleted, so that the scripts are loaded before the
  first measurement (Redis counts its script cache in ``used_memory``);
* ``INFO memory`` ``used_memory`` and ``DBSIZE`` are read; then ``IDS`` 24-hex ids are
  submitted (``Submitter``, batches of 100) while one in-process ``Worker`` settles them with
  a stand-in that answers at once (1 id in 100 missing, the rest deleted): the job's
  scripts are the ones real workers run, only the HTTP is left out;
* ``used_memory`` again once the job is finished: (after - before) / IDS is the bytes an id
  the job leaves in Redis;
* ``bulkdel job report`` runs as a subprocess of a small launcher, which reads its peak RSS
  with ``getrusage(RUSAGE_CHILDREN)`` once it has exited (the job is seeded by another
  process: Linux keeps a child's peak from before its exec, which after a fork of a big
  parent is the parent's size);
* ``bulkdel job delete`` runs, and ``DBSIZE``/``used_memory`` are read once more.

Prints one JSON object; figures and the command that made them:
``benchmarks/JOB_MEMORY_RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bulkdel.engine.sources import Chunk
from bulkdel.jobs import BatchOutcome, Submitter, Worker, connect
from bulkdel.record.ledger import RequestStats

from .redis_scenarios import _redis_server

#: one id in this many is missing (the rest deleted)
MISSING_EVERY = 100


class _Instant:
    """Answers every batch at once: deleted, but every ``MISSING_EVERY``-th id missing."""

    def __init__(self) -> None:
        self.requests = RequestStats()
        self.abort = None

    def stop(self, reason: str) -> None:
        """Nothing is ever in flight."""

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome:
        self.requests.sent += 1
        self.requests.by_status["200"] += 1
        missing = [i for i in file_ids if int(i[-6:], 16) % MISSING_EVERY == 0]
        gone = set(missing)
        return BatchOutcome(deleted=[i for i in file_ids if i not in gone], missing=missing)


async def _ids(count: int) -> AsyncIterator[Chunk]:
    for at in range(0, count, 1000):
        part = [f"{n:024x}" for n in range(at, min(at + 1000, count))]
        yield Chunk("ids", [(at + i + 1, v, None) for i, v in enumerate(part)])


async def _run_job(url: str, job: str, count: int) -> None:
    """Submit ``count`` ids and settle them all with one in-process worker."""
    redis = connect(url)
    try:
        worker = Worker(redis, job, _Instant(), name="bench", capacity=32, block=0.05)
        submitted = asyncio.create_task(Submitter(redis, job).submit(_ids(count), job))
        result = await worker.run()
        assert (await submitted).complete and result.finished, result
    finally:
        await redis.aclose()


async def _by_key(url: str, job: str) -> dict[str, float]:
    """Bytes an id each key of the job holds (``MEMORY USAGE ... SAMPLES 0``: exact)."""
    redis = connect(url)
    try:
        # the pattern spelled out: the benchmark also runs against releases without it
        keys = [k async for k in redis.scan_iter(match=f"bulkdel:job:{{{job}}}:*")]
        usage = {k.rsplit(":", 1)[-1]: await redis.memory_usage(k, samples=0) for k in keys}
        return dict(sorted(usage.items()))
    finally:
        await redis.aclose()


async def _memory(url: str) -> tuple[int, int]:
    """``used_memory`` and ``DBSIZE``."""
    redis = connect(url)
    try:
        return int((await redis.info("memory"))["used_memory"]), int(await redis.dbsize())
    finally:
        await redis.aclose()


#: runs its arguments and prints their peak RSS in KiB: a launcher of its own, so that the
#: figure is the command's (Linux keeps a child's peak from before its exec, which after a
#: fork of this process would be this process's own size)
_LAUNCHER = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(done.returncode)"
)


def _bulkdel(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``bulkdel job ARGS`` through the launcher: its last line of stderr is the peak RSS."""
    env = {**os.environ, "BULKDEL_REDIS_URL": url}
    argv = [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "bulkdel", "job", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def _seed(url: str, job: str, count: int) -> None:
    """``_run_job`` in a process of its own (this one stays small)."""
    code = f"import asyncio, sys; from {__spec__.name} import _run_job; "
    code += f"asyncio.run(_run_job(sys.argv[1], {job!r}, {count}))"
    subprocess.run([sys.executable, "-c", code, url], check=True)


def measure(url: str, work: Path, count: int) -> dict[str, Any]:
    """One job of ``count`` ids: its Redis footprint and its report's peak RSS."""
    _seed(url, "warm", 100)
    _bulkdel(url, "delete", "warm", "--force")
    before, keys_before = asyncio.run(_memory(url))
    started = time.monotonic()
    _seed(url, "big", count)
    job_s = time.monotonic() - started
    after, _ = asyncio.run(_memory(url))
    by_key = {k: round(v / count, 2) for k, v in asyncio.run(_by_key(url, "big")).items()}
    started = time.monotonic()
    done = _bulkdel(url, "report", "--job", "big", "--report-dir", str(work / "report"))
    report_s = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    peak_kib = int(done.stderr.splitlines()[-1])
    summary = json.loads((work / "report" / "summary.json").read_text())
    deleted = _bulkdel(url, "delete", "big")
    cleaned, keys_after = asyncio.run(_memory(url))
    return {
        "ids": count,
        "job_s": round(job_s, 1),
        "redis_bytes_per_id": round((after - before) / count, 2),
        "redis_bytes_per_id_by_key": by_key,
        "report_peak_rss_mib": round(peak_kib / 1024, 1),
        "report_s": round(report_s, 1),
        "report_complete": summary["complete"],
        "report_deleted": summary["counts"]["deleted"],
        "report_missing": summary["counts"]["missing"],
        "job_delete_exit": deleted.returncode,
        "dbsize_before_after": [keys_before, keys_after],
        "used_memory_left_after_delete": cleaned - before,
    }


def main(argv: list[str]) -> None:
    """Print the figures of one job as JSON."""
    count = int(argv[0]) if argv else 1_000_000
    with tempfile.TemporaryDirectory() as work, _redis_server(Path(work)) as url:
        print(json.dumps(measure(url, Path(work), count), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
