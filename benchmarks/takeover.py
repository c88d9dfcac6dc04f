"""Takeover latency against heartbeat cost, for a job worker's visibility timeout.

``python -m benchmarks.takeover [TIMEOUTS...]`` (default 5 10 15 30 60 seconds), against a
private ``redis-server`` on a free port, in one process:

* a "dead" consumer reads 4 batches of a job (``XREADGROUP``) and never heartbeats: a worker
  killed with ``kill -9`` right after its last heartbeat, the worst case;
* at the same moment a live ``Worker`` with that visibility timeout starts on the job's other
  batches, busy all along (a stand-in that takes 0.5 s a batch, 4 at once): a busy worker
  looks for dead batches every heartbeat (timeout / 4), an idle one at every read;
* takeover latency: seconds from the dead read to the last of its batches sent again;
* the live worker's Redis round trips per second over that span: heartbeats, takeover looks,
  and every command (``INFO stats`` ``total_commands_processed``, which counts a script's
  inner calls too; the reads and settles grow with throughput, not with the timeout).

Figures and the command that made them: ``benchmarks/TAKEOVER_RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bulkdel.jobs import BatchOutcome, Submitter, Worker, connect
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.record.ledger import RequestStats

from .redis_scenarios import _redis_server

DEAD_BATCHES = 4
#: seconds the stand-in takes a batch, and batches it sends at once
SEND_S, AT_ONCE = 0.5, 4


class _Busy:
    """Deletes every id after ``SEND_S``; notes when the dead worker's batches are done."""

    def __init__(self, dead: set[str]) -> None:
        self.requests = RequestStats()
        self.aborted: str | None = None
        self.dead = dead
        self.done = asyncio.Event()
        self._slots = asyncio.Semaphore(AT_ONCE)

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome:
        async with self._slots:
            await asyncio.sleep(SEND_S)
        self.requests.sent += 1
        self.dead.difference_update(file_ids)
        if not self.dead:
            self.done.set()
        return BatchOutcome(deleted=file_ids)


async def _ids(count: int) -> Any:
    from bulkdel.engine.sources import Chunk

    values = [f"{n:024x}" for n in range(count)]
    for at in range(0, count, 1000):
        part = values[at : at + 1000]
        yield Chunk("ids", [(at + i + 1, v, None) for i, v in enumerate(part)])


async def measure(url: str, timeout: float) -> dict[str, float]:
    """One run at visibility timeout ``timeout``."""
    redis = connect(url)
    job = f"t{int(timeout)}"
    keys = JobKeys.of(job)
    batches = int(1.5 * timeout * AT_ONCE / SEND_S) + 40
    await Submitter(redis, job, batch_size=10, max_open=batches + 1).submit(_ids(10 * batches), job)
    read = await redis.xreadgroup(GROUP, "dead", {keys.batches: ">"}, count=DEAD_BATCHES)
    dead = {i for _, fields in read[0][1] for i in fields["ids"].split()}
    start = time.monotonic()
    before = int((await redis.info("stats"))["total_commands_processed"])
    busy = _Busy(dead)
    worker = Worker(redis, job, busy, name="live", capacity=AT_ONCE * 2, visibility_timeout=timeout)
    counted = {"heartbeat": 0, "take_over": 0}
    for method in counted:
        original = getattr(worker.claims, method)

        def counting(*args: Any, _original: Any = original, _name: str = method) -> Any:
            counted[_name] += 1
            return _original(*args)

        setattr(worker.claims, method, counting)
    running = asyncio.create_task(worker.run())
    await busy.done.wait()
    latency = time.monotonic() - start
    after = int((await redis.info("stats"))["total_commands_processed"])
    worker.stop()
    await running
    await redis.delete(*keys.all())
    await redis.aclose()
    return {
        "visibility_timeout_s": timeout,
        "heartbeat_s": timeout / 4,
        "takeover_s": round(latency, 2),
        "heartbeats_per_s": round(counted["heartbeat"] / latency, 3),
        "takeover_looks_per_s": round(counted["take_over"] / latency, 3),
        "commands_per_s": round((after - before) / latency, 1),
        "batches_per_s": round(busy.requests.sent / latency, 1),
    }


def main(argv: list[str]) -> None:
    """Print one Markdown row per timeout."""
    timeouts = [float(a) for a in argv] or [5.0, 10.0, 15.0, 30.0, 60.0]
    print(
        "| visibility timeout s | heartbeat every s | takeover s | heartbeats/s | "
        "takeover looks/s | Redis commands/s | batches/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as work, _redis_server(Path(work)) as url:
        for timeout in timeouts:
            row = asyncio.run(measure(url, timeout))
            print("| " + " | ".join(f"{v:g}" for v in row.values()) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
