"""The shared-budget benchmark's processes: ``python -m benchmarks.budget_contenders NAME ...``.

* ``bulkdel-jobs``: ``--jobs K`` concurrent ``bulkdel.delete_files()`` calls in one process
  (they share the account's budget by default), each on its own K-th of the ids;
* ``sdk-async-jobs``: the same with imagekitio's ``AsyncImageKit`` (a semaphore of
  ``--concurrency`` per job, its own retries);
* ``other-client``: another client of the account, spending ``--rate`` requests per second
  steadily (one fresh id a request, never retrying) until it is terminated.

The job contenders print one JSON line: ``elapsed_s`` (from before reading the ids to the last
job's end), ``ids``, ``failed_ids`` and ``jobs`` (each job's ids, elapsed_s and the times, in
seconds from the start, at which its ids were deleted, in 0.25 s buckets).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PATH = "/v1/files/batch/deleteByFileIds"
_BUCKET = 0.25


class _Progress:
    """A ledger sink that counts deleted ids per 0.25 s bucket since ``start``."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.buckets: Counter[int] = Counter()

    def deleted(self, file_ids: Sequence[str]) -> None:
        self.buckets[int((time.perf_counter() - self.start) / _BUCKET)] += len(file_ids)

    def invalid(self, *args: Any) -> None:
        pass

    def duplicate(self, *args: Any) -> None:
        pass

    def missing(self, *args: Any) -> None:
        pass

    def failed(self, *args: Any) -> None:
        pass

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        pass


def _split(ids: list[str], parts: int) -> list[list[str]]:
    size = -(-len(ids) // parts)
    return [ids[i * size : (i + 1) * size] for i in range(parts)]


async def bulkdel_jobs(args: argparse.Namespace) -> dict[str, Any]:
    """K concurrent ``delete_files()`` calls: one budget for the account, by default."""
    import bulkdel
    import bulkdel.budget

    start = time.perf_counter()
    ids = args.ids_file.read_text(encoding="ascii").split()
    parts = _split(ids, args.jobs)
    progress = [_Progress(start) for _ in parts]
    # One budget for every job either way (``budget_for``'s, or this one without the slow
    # start: how the first contact went before it).
    shared = None if args.slow_start else bulkdel.budget.LocalBudget(slow_start=False)

    async def one(part: list[str], sink: _Progress) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="bulkdel-bench-") as tmp:
            report = await bulkdel.delete_files(
                part,
                private_key=args.key,
                base_url=args.base_url,
                concurrency=args.concurrency,
                rate=args.rate,
                report_dir=Path(tmp) / "report",
                sinks=[sink],  # type: ignore[list-item]
                budget=shared,
            )
        counts = report.counts
        return {
            "ids": len(part),
            "elapsed_s": time.perf_counter() - start,
            "failed_ids": counts.failed + counts.not_attempted,
            "deleted_at": dict(sink.buckets),
        }

    jobs = await asyncio.gather(*(one(p, s) for p, s in zip(parts, progress, strict=True)))
    return {
        "elapsed_s": time.perf_counter() - start,
        "ids": len(ids),
        "failed_ids": sum(j["failed_ids"] for j in jobs),
        "jobs": jobs,
    }


async def sdk_async_jobs(args: argparse.Namespace) -> dict[str, Any]:
    """K concurrent jobs on imagekitio's AsyncImageKit, each a semaphore and a gather."""
    from imagekitio import AsyncImageKit

    start = time.perf_counter()
    ids = args.ids_file.read_text(encoding="ascii").split()
    errors: Counter[str] = Counter()

    async def one(part: list[str]) -> dict[str, Any]:
        failed = 0
        buckets: Counter[int] = Counter()
        semaphore = asyncio.Semaphore(args.concurrency)
        kwargs = {"private_key": args.key, "password": "", "base_url": args.base_url}
        async with AsyncImageKit(**kwargs) as client:

            async def batch(file_ids: list[str]) -> None:
                nonlocal failed
                async with semaphore:
                    try:
                        await client.files.bulk.delete(file_ids=file_ids)
                        buckets[int((time.perf_counter() - start) / _BUCKET)] += len(file_ids)
                    except Exception as exc:
                        errors[type(exc).__name__] += 1
                        failed += len(file_ids)

            size = args.batch_size
            await asyncio.gather(*(batch(part[i : i + size]) for i in range(0, len(part), size)))
        return {
            "ids": len(part),
            "elapsed_s": time.perf_counter() - start,
            "failed_ids": failed,
            "deleted_at": dict(buckets),
        }

    jobs = await asyncio.gather(*(one(p) for p in _split(ids, args.jobs)))
    return {
        "elapsed_s": time.perf_counter() - start,
        "ids": len(ids),
        "failed_ids": sum(j["failed_ids"] for j in jobs),
        "errors": dict(errors),
        "jobs": jobs,
    }


async def other_client(args: argparse.Namespace) -> dict[str, Any]:
    """Spend ``--rate`` requests per second on the account until SIGTERM; never retry."""
    import aiohttp

    auth = "Basic " + base64.b64encode(f"{args.key}:".encode()).decode()
    statuses: Counter[str] = Counter()
    done = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    loop = asyncio.get_running_loop()
    url = args.base_url + PATH

    async def send(session: aiohttp.ClientSession, n: int) -> None:
        try:
            async with session.post(url, json={"fileIds": [f"other{n:019d}"]}) as answer:
                await answer.read()
                statuses[str(answer.status)] += 1
        except aiohttp.ClientError as exc:
            statuses[type(exc).__name__] += 1

    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:
        print("ready", flush=True)
        start = loop.time()
        n = 0
        while not done.is_set():
            task = asyncio.ensure_future(send(session, n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            delay = start + n / args.rate - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), delay)
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"requests": n, "statuses": dict(statuses)}


CONTENDERS = {
    "bulkdel-jobs": bulkdel_jobs,
    "sdk-async-jobs": sdk_async_jobs,
    "other-client": other_client,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one contender and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget_contenders")
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("ids_file", type=Path, nargs="?")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--no-slow-start", dest="slow_start", action="store_false")
    args = parser.parse_args(argv)
    result = asyncio.run(CONTENDERS[args.name](args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
