"""``python -m benchmarks.manifest_cost``: what proof of deletion costs.

1. The manifest: a 100,000-file selector run (``--path /bench/``) against the fake server in
   its own process, with and without ``manifest.jsonl`` (``BulkDeleter(manifest=False)``),
   each run in its own child process, alternated, ``--rounds`` times; the figure is the
   ratio of the medians of files/s (the run's own ``elapsed_s``, start-up excluded). Target:
   >= 0.9.
2. ``bulkdel verify --sample 1000`` on a report of 1,000,000 ids reported deleted (all 404 on
   the fake): the command's wall time, start-up included.

Prints one JSON object and a short table; ``--files`` and ``--ids`` shrink it for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import KEY, FakeServer, write_ids

#: the child that runs one selector delete and prints its summary
_CHILD = """
import asyncio, json, sys
from bulkdel import BulkDeleter, Settings, Selection
from bulkdel.imagekit import ListingClient
from bulkdel.listing.pager import Listing

async def main(url, key, report_dir, manifest):
    settings = Settings(base_url=url)
    listing = Listing(ListingClient.for_settings(key, settings), Selection(path="/bench/"))
    deleter = BulkDeleter(key, settings=settings, report_dir=report_dir, manifest=manifest)
    report = await deleter.run(listing=listing)
    print(json.dumps(report.summary()))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"))
"""


def _selector_run(files: int, manifest: bool, work: Path, n: int) -> float:
    """Files deleted per second of one run."""
    with FakeServer(extra_args=("--seed-folder", f"/bench/={files}")) as server:
        report = work / f"r-{n}-{int(manifest)}"
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, server.url, KEY, str(report), "1" if manifest else "0"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["counts"]["deleted"] == files, summary["counts"]
    assert (report / "manifest.jsonl").exists() == manifest
    return files / summary["elapsed_s"]


def manifest_cost(files: int, rounds: int, work: Path) -> dict[str, object]:
    """The ratio of medians, with and without the manifest."""
    runs: dict[str, list[float]] = {"with": [], "without": []}
    for n in range(rounds):
        for manifest in (n % 2 == 0, n % 2 != 0):  # alternate which goes first
            runs["with" if manifest else "without"].append(_selector_run(files, manifest, work, n))
    with_, without = statistics.median(runs["with"]), statistics.median(runs["without"])
    return {
        "files": files,
        "rounds": rounds,
        "files_per_s_with": round(with_),
        "files_per_s_without": round(without),
        "ratio": round(with_ / without, 3),
        "runs": {k: [round(v) for v in vs] for k, vs in runs.items()},
    }


def raw_manifest(pages: int, work: Path) -> dict[str, object]:
    """The manifest alone: ``pages`` pages of 1,000 listing records written and fsync-ed one
    page at a time, as a run writes them (records/s: the ceiling it puts on a run)."""
    import asyncio

    from bulkdel.record.manifest import Manifest
    from bulkdel.testing import seed_files

    records = [f.as_json() for f in seed_files({"/bench/": 1000})]
    manifest = Manifest(work / "raw")
    (work / "raw").mkdir()

    async def write() -> float:
        started = time.perf_counter()
        for _ in range(pages):
            await manifest.write(records)
        return time.perf_counter() - started

    elapsed = asyncio.run(write())
    manifest.close()
    return {"records": pages * 1000, "records_per_s": round(pages * 1000 / elapsed)}


def verify_time(ids: int, sample: int, work: Path) -> dict[str, object]:
    """Wall time of ``bulkdel verify --sample`` on a report of ``ids`` deleted ids."""
    report = work / "big-report"
    report.mkdir()
    write_ids(report / "deleted.txt", ids)
    (report / "summary.json").write_text(json.dumps({"counts": {"deleted": ids}}))
    (work / "none.txt").write_text("")
    env_key = {"IMAGEKIT_PRIVATE_KEY": KEY}
    with FakeServer(extra_args=("--existing", str(work / "none.txt"))) as server:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bulkdel", "verify", str(report), "--sample", str(sample),
             "--base-url", server.url],
            capture_output=True, text=True, env={**_environ(), **env_key}, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - started
    result = json.loads((report / "verify.json").read_text())
    assert done.returncode == 0 and result["deleted"]["checked"] == sample, done.stderr
    return {
        "ids": ids,
        "sample": sample,
        "wall_s": round(wall, 2),
        "statement": result["deleted"]["confidence"],
    }


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def main(argv: list[str] | None = None) -> int:
    """Run both measurements; print the JSON and a table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.manifest_cost")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkdel-bench-") as tmp:
        work = Path(tmp)
        cost = manifest_cost(args.files, args.rounds, work)
        cost["alone"] = raw_manifest(100, work)
        verify = verify_time(args.ids, args.sample, work)
    print(json.dumps({"manifest": cost, "verify": verify}, indent=2))
    print(
        f"manifest: {cost['files_per_s_with']:,} files/s with, {cost['files_per_s_without']:,} "
        f"without: ratio {cost['ratio']} (target >= 0.9); alone "
        f"{cost['alone']['records_per_s']:,} records/s\n"
        f"verify --sample {verify['sample']:,} of {verify['ids']:,} ids: {verify['wall_s']} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
