"""What ``delete_batch`` costs in memory (``python -m benchmarks.batch_memory``).

200 calls of 100 ids each, 20 at once, against a fake server process (no limit), in a fresh
child process a figure, with and without a caller's ``aiohttp`` session:

* *peak RSS growth*: the process's peak RSS (``VmHWM``) after the calls over its RSS before
  them (bulkdel and aiohttp imported, one warm-up call made: start-up is not counted);
* *left for the GC*: the calls run with the garbage collector off, then ``gc.collect()``:
  the bytes (``tracemalloc``, started before the calls) and objects it frees are what only
  the collector could free, all of it, not what happened to be left at some moment.

Without a session of the caller's, each call opens and closes its own: aiohttp's connector
and transports hold reference cycles of their own, which the second figure counts.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

from .harness import KEY, FakeServer, child_env

CALLS = 200
AT_ONCE = 20
MODES = ("own-session", "caller-session")


def _status(field: str) -> int:
    """A ``/proc/self/status`` figure, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


async def _calls(url: str, shared: bool, count: int, first: int) -> None:
    import aiohttp

    from bulkdel import delete_batch

    gate = asyncio.Semaphore(AT_ONCE)
    session = aiohttp.ClientSession() if shared else None

    async def one(i: int) -> None:
        ids = [f"{(first + i) * 100 + j:024x}" for j in range(100)]
        async with gate:
            await delete_batch(ids, private_key=KEY, base_url=url, session=session)

    try:
        await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        if session is not None:
            await session.close()


def _child(mode: str, measure: str, url: str) -> dict[str, Any]:
    shared = mode == "caller-session"
    asyncio.run(_calls(url, shared, 1, 0))  # the imports and a first call: start-up
    gc.collect()
    if measure == "rss":
        before = _status("VmRSS")
        asyncio.run(_calls(url, shared, CALLS, 1))
        return {"peak_rss_growth_mib": round((_status("VmHWM") - before) / 2**20, 1)}
    tracemalloc.start()
    gc.disable()
    asyncio.run(_calls(url, shared, CALLS, 1))
    held = tracemalloc.get_traced_memory()[0]
    objects = gc.collect()
    freed = held - tracemalloc.get_traced_memory()[0]
    return {"gc_freed_mib": round(freed / 2**20, 2), "gc_objects": objects}


def run() -> list[dict[str, Any]]:
    """Each mode and measure in its own process against one fake server process."""
    results = []
    with FakeServer() as fake:
        for mode in MODES:
            row: dict[str, Any] = {"mode": mode}
            for measure in ("rss", "gc"):
                argv = [sys.executable, "-m", "benchmarks.batch_memory", "child", mode]
                out = subprocess.run(
                    [*argv, measure, fake.url],
                    capture_output=True,
                    text=True,
                    env=child_env(),
                    check=True,
                    timeout=600,
                )
                row.update(json.loads(out.stdout.strip().splitlines()[-1]))
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return results


def markdown(results: list[dict[str, Any]]) -> list[str]:
    """The section of RESULTS.md."""
    lines = [
        "## What `delete_batch` costs in memory",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        "| session | peak RSS growth MiB | left for the GC MiB | objects the GC freed |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['mode']} | {r['peak_rss_growth_mib']:.1f} | {r['gc_freed_mib']:.2f} | "
            f"{r['gc_objects']:,} |"
        )
    return [*lines, ""]


def main(argv: list[str]) -> None:
    """``child MODE MEASURE URL`` measures one figure; no argument runs them all."""
    if argv[:1] == ["child"]:
        print(json.dumps(_child(argv[1], argv[2], argv[3])), flush=True)
        return
    results = run()
    out = Path(__file__).with_name("batch_memory.json")
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print("\n".join(markdown(results)))


if __name__ == "__main__":
    main(sys.argv[1:])
