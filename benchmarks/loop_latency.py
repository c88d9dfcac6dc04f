"""Does bulkdel hold its caller's event loop? (``python -m benchmarks.loop_latency``)

A neighbour coroutine ticks every millisecond beside a library call, in a fresh process, and
records how late each tick wakes: a late tick is the time some callback held the loop. Each
figure is measured in its own child process against a fake server process (no limit):

* *first call*: ``from bulkdel import delete_files`` at module level, as the README shows,
  then the first ``delete_files`` of 1,000 ids (its first 0.5 s);
* *first call, attribute*: ``import bulkdel`` only, and ``bulkdel.delete_files`` looked up
  inside the coroutine: the lazy export imports the engine there, on the loop;
* *200k run*: a whole ``delete_files`` of 200,000 ids, 8 in flight;
* *5M dry run*: a whole ``delete_files(dry_run=True)`` of 5,000,000 distinct ids from a
  generator (nothing is sent: the run is the reading and the de-duplication, whose table
  fills and spills to disk 19 times, its runs merging and its Bloom filter rebuilt);
* *idle*: the ticker alone for 2 s, the same process set-up: the machine's own noise, the
  baseline the others are read against (this machine has 2 cores shared with other work).

Figures: worst lateness, and the 99.9th and 99th percentiles, in milliseconds; each the
median of ``REPEAT`` runs (the machine's noise varies from second to second).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .harness import KEY, FakeServer, child_env

TICK = 0.001
REPEAT = 3
MODES = ("idle", "first-call", "first-call-attribute", "run-200k", "dry-5m")
#: ids of the modes that delete (the others: none)
COUNTS = {"first-call": 1000, "first-call-attribute": 1000, "run-200k": 200_000}
DRY = 5_000_000


async def _ticker(lates: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(TICK)
        lates.append(loop.time() - start - TICK)


async def _measure(mode: str, url: str) -> dict[str, Any]:
    count = COUNTS.get(mode)
    ids: Iterable[str] = [f"{i:024x}" for i in range(count or 0)]  # before the ticks
    if mode == "dry-5m":
        count = DRY  # spread over the hash space as ObjectIds are, made as they are read
        ids = (f"{i * 0x9E3779B97F4A7C15 % (1 << 96):024x}" for i in range(DRY))
    lates: list[float] = []
    stop = asyncio.Event()
    ticking = asyncio.create_task(_ticker(lates, stop))
    await asyncio.sleep(0.05)
    lates.clear()
    started = time.perf_counter()
    if count is None:
        await asyncio.sleep(2.0)
    else:
        await _delete(mode, ids, url)
        if mode in ("first-call", "first-call-attribute"):
            await asyncio.sleep(0.5)  # the first 0.5 s: the call, then whatever it left
    elapsed = time.perf_counter() - started
    stop.set()
    await ticking
    ms = sorted(late * 1000 for late in lates)
    return {
        "mode": mode,
        "elapsed_s": round(elapsed, 3),
        "ticks": len(ms),
        "worst_ms": round(ms[-1], 2),
        "p999_ms": round(ms[int(len(ms) * 0.999) - 1], 2),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2),
    }


async def _delete(mode: str, ids: Iterable[str], url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bulkdel-loop-") as tmp:
        if mode == "first-call-attribute":
            import bulkdel

            delete = bulkdel.delete_files  # the lazy export: imported here, on the loop
        else:
            delete = _DELETE_FILES
        report = Path(tmp) / "report"
        await delete(
            ids, private_key=KEY, base_url=url, report_dir=report, dry_run=mode == "dry-5m"
        )


def _child(mode: str, url: str) -> None:
    global _DELETE_FILES
    if mode != "first-call-attribute":
        from bulkdel import delete_files  # at module level in a real service

        _DELETE_FILES = delete_files
    print(json.dumps(asyncio.run(_measure(mode, url))), flush=True)


_DELETE_FILES: Any = None


def run(modes: Iterable[str] = MODES) -> list[dict[str, Any]]:
    """Every mode in its own process against one fake server process."""
    results = []
    with FakeServer() as fake:
        for mode in modes:
            runs = []
            for _ in range(REPEAT):
                argv = [sys.executable, "-m", "benchmarks.loop_latency", "child", mode, fake.url]
                out = subprocess.run(
                    argv, capture_output=True, text=True, env=child_env(), check=True, timeout=600
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            median = {key: sorted(r[key] for r in runs)[len(runs) // 2] for key in runs[0]}
            results.append({**median, "mode": mode, "runs": runs})
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return results


def markdown(results: list[dict[str, Any]]) -> list[str]:
    """The section of RESULTS.md."""
    lines = [
        "## The caller's event loop",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        "| call | seconds | ticks | worst ms | p99.9 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['mode']} | {r['elapsed_s']:.2f} | {r['ticks']} | {r['worst_ms']:.1f} | "
            f"{r['p999_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    return [*lines, ""]


def main(argv: list[str]) -> None:
    """``child MODE URL`` measures one mode; ``MODE...`` those modes (default: all) and
    prints markdown (all modes write ``loop_latency.json``, some ``loop_latency_some.json``)."""
    if argv[:1] == ["child"]:
        _child(argv[1], argv[2])
        return
    unknown = set(argv) - set(MODES)
    if unknown:
        sys.exit(f"unknown mode(s) {sorted(unknown)}; choose from {', '.join(MODES)}")
    results = run(argv or MODES)
    name = "loop_latency.json" if not argv else "loop_latency_some.json"
    out = Path(__file__).with_name(name)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print("\n".join(markdown(results)))


if __name__ == "__main__":
    main(sys.argv[1:])
