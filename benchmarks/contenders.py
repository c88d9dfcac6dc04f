"""The contenders, each run as its own process: ``python -m benchmarks.contenders NAME ...``.

Each reads the id file itself (inside its timed section, as a user's script would), deletes the
ids against ``--base-url`` and prints one JSON line: ``elapsed_s`` (from before reading the file
to the last answer), ``ids`` (read), ``failed_ids`` (ids in batches that ended in an exception)
and ``errors`` (exception type -> count). bulkdel's own CLI is not here: the runner runs it
directly, since that is what users run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import inspect
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

PATH = "/v1/files/batch/deleteByFileIds"


def _read_ids(path: Path, limit: int | None) -> list[str]:
    ids = path.read_text(encoding="ascii").split()
    return ids[:limit] if limit else ids


def _batches(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


async def bare(args: argparse.Namespace) -> dict[str, Any]:
    """The ceiling: aiohttp, N workers, no validation, no report, no retries."""
    import aiohttp

    start = time.perf_counter()
    ids = _read_ids(args.ids_file, args.limit)
    batches = _batches(ids, args.batch_size)
    auth = "Basic " + base64.b64encode(f"{args.key}:".encode()).decode()
    statuses: Counter[str] = Counter()
    url = args.base_url + PATH

    async def worker(session: aiohttp.ClientSession) -> None:
        for batch in batches:  # one shared iterator: each batch goes to exactly one worker
            async with session.post(url, json={"fileIds": batch}) as answer:
                await answer.read()
                statuses[str(answer.status)] += 1

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(
        connector=connector, headers={"Authorization": auth}
    ) as session:
        await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
    failed = sum(n for s, n in statuses.items() if s not in ("200", "207")) * args.batch_size
    return {
        "elapsed_s": time.perf_counter() - start,
        "ids": len(ids),
        "failed_ids": min(failed, len(ids)),
        "errors": {},
        "statuses": dict(statuses),
    }


def _sdk_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    # The SDK sends Basic base64("key:" + password) and defaults the password to "do_not_set";
    # the fake server (like the spec) wants "key:", so pass an empty password.
    return {"private_key": args.key, "password": "", "base_url": args.base_url}


async def sdk_async(args: argparse.Namespace) -> dict[str, Any]:
    """imagekitio's AsyncImageKit: a semaphore and asyncio.gather, its retries left on."""
    from imagekitio import AsyncImageKit

    start = time.perf_counter()
    ids = _read_ids(args.ids_file, args.limit)
    errors: Counter[str] = Counter()
    failed = 0
    semaphore = asyncio.Semaphore(args.concurrency)
    async with AsyncImageKit(**_sdk_kwargs(args)) as client:

        async def one(batch: list[str]) -> None:
            nonlocal failed
            async with semaphore:
                try:
                    await client.files.bulk.delete(file_ids=batch)
                except Exception as exc:  # what a user's gather(return_exceptions) would see
                    errors[type(exc).__name__] += 1
                    failed += len(batch)

        await asyncio.gather(*(one(b) for b in _batches(ids, args.batch_size)))
    return {
        "elapsed_s": time.perf_counter() - start,
        "ids": len(ids),
        "failed_ids": failed,
        "errors": dict(errors),
    }


def sdk_sync(args: argparse.Namespace) -> dict[str, Any]:
    """imagekitio's sync ImageKit client in a plain loop."""
    from imagekitio import ImageKit

    start = time.perf_counter()
    ids = _read_ids(args.ids_file, args.limit)
    errors: Counter[str] = Counter()
    failed = 0
    with ImageKit(**_sdk_kwargs(args)) as client:
        for batch in _batches(ids, args.batch_size):
            try:
                client.files.bulk.delete(file_ids=batch)
            except Exception as exc:
                errors[type(exc).__name__] += 1
                failed += len(batch)
    return {
        "elapsed_s": time.perf_counter() - start,
        "ids": len(ids),
        "failed_ids": failed,
        "errors": dict(errors),
    }


async def bulkdel_lib(args: argparse.Namespace) -> dict[str, Any]:
    """bulkdel's library API: ``await bulkdel.delete_files(ids, ...)``."""
    import bulkdel

    delete_files = getattr(bulkdel, "delete_files", None)
    if delete_files is None:
        raise SystemExit("bulkdel.delete_files is not available yet")
    start = time.perf_counter()
    ids = _read_ids(args.ids_file, args.limit)
    with tempfile.TemporaryDirectory(prefix="bulkdel-bench-") as tmp:
        report = await delete_files(
            ids,
            private_key=args.key,
            base_url=args.base_url,
            concurrency=args.concurrency,
            rate=args.rate,
            report_dir=Path(tmp) / "report",
        )
    elapsed = time.perf_counter() - start
    counts = _counts_of(report)
    return {
        "elapsed_s": elapsed,
        "ids": len(ids),
        "failed_ids": counts.get("failed", 0) + counts.get("not_attempted", 0),
        "errors": {},
        "counts": counts,
    }


def _counts_of(report: Any) -> dict[str, int]:
    """The counts of a bulkdel report, whatever shape it takes (dict, dataclass, summary)."""
    for attr in ("summary", "counts"):
        value = getattr(report, attr, None)
        if callable(value):
            value = value()
        if value is not None:
            report = value
            break
    if isinstance(report, dict):
        counts = report.get("counts", report)
        return {k: v for k, v in counts.items() if isinstance(v, int)}
    if hasattr(report, "__dataclass_fields__"):
        return {
            k: getattr(report, k)
            for k in report.__dataclass_fields__
            if isinstance(getattr(report, k), int)
        }
    return {}


CONTENDERS = {
    "bare": bare,
    "sdk-async": sdk_async,
    "sdk-sync": sdk_sync,
    "bulkdel-lib": bulkdel_lib,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one contender and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contenders")
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("ids_file", type=Path)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", default=os.environ.get("IMAGEKIT_PRIVATE_KEY", ""))
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N ids")
    args = parser.parse_args(argv)
    func = CONTENDERS[args.name]
    result = asyncio.run(func(args)) if inspect.iscoroutinefunction(func) else func(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
