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
  fills and spills to disk 19 times, its runs merging and its Bloom filter rebuilt); *17M*
  the same with 16,777,216 ids (64 spills: a merge of all 16.8M keys at the end);
* *idle*: the ticker alone for 2 s, the same process set-up: the machine's own noise, the
  baseline the others are read against (this machine has 2 cores shared with other work);
* *busy*: the ticker beside a coroutine that computes in 0.5 ms slices for 10 s: the noise
  a process that keeps a core busy sees (the kernel gives its core to other work now and
  then), the baseline of the *5M dry run*, which keeps a core busy.

Figures: worst lateness, and the 99.9th and 99th percentiles, in milliseconds; each the
median of ``REPEAT`` runs (the machine's noise varies from second to second). *Held CPU*: the
most CPU time (the loop thread's own, ``time.thread_time``) that one callback of the loop
took: what a callback held the loop for, whatever else the machine was doing meanwhile.
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
MODES = ("idle", "busy", "first-call", "first-call-attribute", "run-200k", "dry-5m", "dry-17m")
#: ids of the modes that delete (the others: none)
COUNTS = {"first-call": 1000, "first-call-attribute": 1000, "run-200k": 200_000}
#: ids of the dry runs (16.8M: the table spills 64 times, the fourth merge level is reached)
DRY = {"dry-5m": 5_000_000, "dry-17m": 1 << 24}


async def _ticker(lates: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(TICK)
        lates.append(loop.time() - start - TICK)


#: the most thread CPU time one callback of the loop took, seconds
_HELD = [0.0]


def _time_callbacks() -> None:
    """Every callback the loop runs (a task's step is one) adds to ``_HELD``."""
    run = asyncio.events.Handle._run

    def timed(handle: asyncio.events.Handle) -> None:
        start = time.thread_time()
        run(handle)
        _HELD[0] = max(_HELD[0], time.thread_time() - start)

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]


async def _measure(mode: str, url: str) -> dict[str, Any]:
    count = COUNTS.get(mode)
    ids: Iterable[str] = [f"{i:024x}" for i in range(count or 0)]  # before the ticks
    if mode in DRY:
        count = DRY[mode]  # spread over the hash space as ObjectIds are, made as read
        ids = (f"{i * 0x9E3779B97F4A7C15 % (1 << 96):024x}" for i in range(count))
    lates: list[float] = []
    stop = asyncio.Event()
    ticking = asyncio.create_task(_ticker(lates, stop))
    await asyncio.sleep(0.05)
    lates.clear()
    _HELD[0] = 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bulkdel-loop-") as tmp:
        if mode == "busy":
            await _busy(10.0)
        elif count is None:
            await asyncio.sleep(2.0)
        else:
            await _delete(mode, ids, url, Path(tmp) / "report")
            if mode in ("first-call", "first-call-attribute"):
                await asyncio.sleep(0.5)  # the first 0.5 s: the call, then whatever it left
        elapsed = time.perf_counter() - started
        stop.set()
        await ticking
        # the report directory is removed after the ticks: removing a 5M-id dry run's
        # (0.1-0.5 s on this machine, on the loop) is this benchmark's doing, not bulkdel's
    ms = sorted(late * 1000 for late in lates)
    return {
        "mode": mode,
        "elapsed_s": round(elapsed, 3),
        "ticks": len(ms),
        "worst_ms": round(ms[-1], 2),
        "p999_ms": round(ms[int(len(ms) * 0.999) - 1], 2),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2),
        "held_cpu_ms": round(_HELD[0] * 1000, 2),
    }


async def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while (now := time.perf_counter()) < end:
        while time.perf_counter() - now < 0.0005:
            pass
        await asyncio.sleep(0)


async def _delete(mode: str, ids: Iterable[str], url: str, report: Path) -> None:
    if mode == "first-call-attribute":
        import bulkdel

        delete = bulkdel.delete_files  # the lazy export: imported here, on the loop
    else:
        delete = _DELETE_FILES
    await delete(ids, private_key=KEY, base_url=url, report_dir=report, dry_run=mode in DRY)


def _child(mode: str, url: str) -> None:
    global _DELETE_FILES
    if mode != "first-call-attribute":
        from bulkdel import delete_files  # at module level in a real service

        _DELETE_FILES = delete_files
    _time_callbacks()
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
        "| call | seconds | ticks | worst ms | p99.9 ms | p99 ms | held CPU ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['mode']} | {r['elapsed_s']:.2f} | {r['ticks']} | {r['worst_ms']:.1f} | "
            f"{r['p999_ms']:.1f} | {r['p99_ms']:.1f} | {r['held_cpu_ms']:.1f} |"
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
