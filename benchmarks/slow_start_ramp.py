"""What the slow start costs where nothing limits (``python -m benchmarks.slow_start_ramp
[--runs N] [--ids N]``): one job of 8 workers, in this process, against a fake server
process with no limit, alternately with the slow start and without it (``LocalBudget(
slow_start=False)``).

*ramp* is the time from the job's first answer to the end of the slow start (unpaced from
then on: the job's own concurrency holds it), read from the budget's controller every
millisecond; *round trips* is that time over the smoothed answer time the slow start
measured; *work* is the whole call's wall time. Medians of ``--runs`` alternated runs: on a
shared machine the whole call's time varies by more than the ramp, which is why the ramp is
read where it happens.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import KEY, FakeServer, make_id


async def _one(url: str, ids: list[str], slow_start: bool) -> dict[str, Any]:
    import bulkdel
    from bulkdel.budget import LocalBudget

    budget = LocalBudget(slow_start=slow_start)
    controller = budget._pace.controller
    marks: dict[str, float] = {}

    async def watch() -> None:
        while True:
            now = time.perf_counter()
            if controller.srtt is not None:
                marks.setdefault("first_answer", now)
            if "first_answer" in marks and not controller.starting:
                marks.setdefault("ended", now)
                marks.setdefault("srtt", controller.srtt or 0.0)
                return
            await asyncio.sleep(0.001)

    watching = asyncio.ensure_future(watch())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bulkdel-ramp-") as tmp:
        await bulkdel.delete_files(
            ids, private_key=KEY, base_url=url, report_dir=Path(tmp) / "r", budget=budget
        )
    work = time.perf_counter() - start
    watching.cancel()
    row: dict[str, Any] = {"slow_start": slow_start, "work_s": round(work, 3)}
    if slow_start and "ended" in marks:
        ramp = marks["ended"] - marks["first_answer"]
        row.update(ramp_s=round(ramp, 4), srtt_ms=round(marks["srtt"] * 1000, 2))
        row["round_trips"] = round(ramp / marks["srtt"], 1) if marks["srtt"] else None
    return row


def main(argv: list[str] | None = None) -> None:
    """Run and print the figures and a markdown table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.slow_start_ramp")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ids", type=int, default=200_000)
    args = parser.parse_args(argv)
    ids = [make_id(i) for i in range(args.ids)]
    rows = []
    with FakeServer(rate=None) as fake:
        for _ in range(args.runs):
            for slow in (True, False):
                rows.append(asyncio.run(_one(fake.url, ids, slow)))
                print(rows[-1], flush=True)
    slow_rows = [r for r in rows if r["slow_start"]]
    fast_rows = [r for r in rows if not r["slow_start"]]
    ramps = [r["ramp_s"] for r in slow_rows if "ramp_s" in r]
    trips = [r["round_trips"] for r in slow_rows if r.get("round_trips")]
    srtts = [r["srtt_ms"] for r in slow_rows if "srtt_ms" in r]
    print()
    print("| ids | runs | ramp, median (min-max) | answer time at its end | round trips | "
          "work with / without the slow start |")  # fmt: skip
    print("|---:|---:|---|---:|---:|---|")
    print(
        f"| {args.ids:,} | {args.runs} | {statistics.median(ramps) * 1000:.0f} ms "
        f"({min(ramps) * 1000:.0f}-{max(ramps) * 1000:.0f}) | "
        f"{statistics.median(srtts):.1f} ms | {statistics.median(trips):.0f} | "
        f"{statistics.median(r['work_s'] for r in slow_rows):.2f} s / "
        f"{statistics.median(r['work_s'] for r in fast_rows):.2f} s |"
    )


if __name__ == "__main__":
    main()
