"""Helpers of the distributed-job tests: a stand-in processor, ids and chunks, and the
``bulkdel job`` subprocesses (one in the background, one to its end)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import redis as sync_redis

from bulkdel.jobs import BatchOutcome
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.models import Abort, Chunk
from bulkdel.record.ledger import RequestStats
from tests.helpers import KEY, check_report_dir, read_jsonl, read_lines

Completed = subprocess.CompletedProcess[str]


class StandIn:
    """A batch processor that deletes everything, optionally after a gate opens."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.requests = RequestStats()
        self.calls: list[tuple[list[str], bool]] = []
        self.gate = gate
        self.abort: Abort | None = None
        self.started = asyncio.Event()
        self.missing: set[str] = set()

    def stop(self, reason: Abort) -> None:
        """Nothing to stop: every call deletes at once."""

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome | None:
        self.calls.append((file_ids, in_flight_earlier))
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        self.requests.sent += 1
        self.requests.by_status["200"] += 1
        gone = [i for i in file_ids if i in self.missing]
        kept = [i for i in file_ids if i not in self.missing]
        if in_flight_earlier:
            return BatchOutcome(deleted=kept, missing_after_retry=gone)
        return BatchOutcome(deleted=kept, missing=gone)


def ids(count: int, start: int = 0) -> list[str]:
    """``count`` distinct 24-hex ids."""
    return [f"{n:024x}" for n in range(start, start + count)]


async def chunks(values: Iterable[str], size: int = 250) -> AsyncIterator[Chunk]:
    """``values`` as chunks of lines, like a file source."""
    items = [(n + 1, v, None if v.isalnum() else "bad") for n, v in enumerate(values)]
    for at in range(0, len(items), size):
        yield Chunk("ids.txt", items[at : at + size])


#: ``python -m bulkdel``, with a SIGUSR1 handler that writes to stderr what every thread runs
#: and where every asyncio task waits (its chain of awaits): a job process that does not end
#: in time says why
_WITH_TASK_DUMP = """
import asyncio, faulthandler, runpy, signal, sys


def chain(coro):
    lines = []
    while coro is not None and len(lines) < 40:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        frame = frame or getattr(coro, "gi_frame", None)
        if frame is not None:
            lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        awaited = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        awaited = awaited or getattr(coro, "gi_yieldfrom", None)
        if awaited is not None and not any(
            hasattr(awaited, a) for a in ("cr_frame", "ag_frame", "gi_frame")
        ):
            lines.append(f"    awaits {awaited!r}"[:300])
            break
        coro = awaited
    return lines


def dump(*_):
    faulthandler.dump_traceback(sys.stderr, all_threads=True)
    try:
        tasks = asyncio.all_tasks(asyncio.get_running_loop())
    except RuntimeError:
        tasks = set()
    out = [f"--- {len(tasks)} asyncio tasks ---"]
    for task in tasks:
        out.append(f"  {task.get_name()}")
        out.extend(chain(task.get_coro()))
    out.append("--- end of tasks ---")
    print("\\n".join(out), file=sys.stderr, flush=True)


signal.signal(signal.SIGUSR1, dump)
runpy.run_module("bulkdel", run_name="__main__", alter_sys=True)
"""
#: seconds a process that did not end in time is given to write where its tasks wait
_DUMP_WAIT = 5.0


class JobProcess:
    """``python -m bulkdel job ARGS`` in the background, its stderr in a file."""

    def __init__(
        self, args: list[str], env: dict[str, str], log: Path, *, stdin: Path | None = None
    ) -> None:
        self.args = args
        self.log = log
        with log.open("w") as sink, (stdin or Path(os.devnull)).open("rb") as source:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WITH_TASK_DUMP, "job", *args],
                env=env,
                stdin=source,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for it to exit: its exit code and stderr.

        Raises:
            AssertionError: it did not exit within ``timeout`` seconds; the message holds
                where its tasks waited and the logs of the test's other job processes.
        """
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"`bulkdel job {' '.join(self.args)}` did not exit within {timeout:g}s\n"
                + self._post_mortem()
            ) from None
        return code, self.log.read_text()

    def _post_mortem(self) -> str:
        """Where its tasks wait (then it is killed), and every job log beside its own."""
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + _DUMP_WAIT
        while "--- end of tasks ---" not in self.log.read_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        logs = sorted(self.log.parent.glob("*.log"), key=lambda p: p != self.log)
        return "\n".join(f"--- {p.name} ---\n{p.read_text()[-20_000:]}" for p in logs)

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    @contextlib.contextmanager
    def held_still(self) -> Iterator[None]:
        """SIGSTOP, and in the block it runs nothing more (it is stopped, not only told to
        stop); SIGCONT after, unless it ended in the block."""
        self.process.send_signal(signal.SIGSTOP)
        try:
            stat = Path(f"/proc/{self.process.pid}/stat")
            # the state follows the ")" that ends the command's name
            while (
                self.process.poll() is None
                and stat.read_text().rpartition(")")[2].split()[0] != "T"
            ):
                time.sleep(0.001)
            yield
        finally:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGCONT)


def job_env(redis_url: str, base_url: str) -> dict[str, str]:
    """The environment of a job subprocess: the test key, the Redis and the fake server."""
    return {
        **os.environ,
        "IMAGEKIT_PRIVATE_KEY": KEY,
        "BULKDEL_REDIS_URL": redis_url,
        "IMAGE_KIT_BASE_URL": base_url,
    }


def run_job(args: list[str], env: dict[str, str], stdin: str | None = None) -> Completed:
    """``python -m bulkdel job ARGS`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "bulkdel", "job", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def status_of(job: str, env: dict[str, str]) -> dict[str, Any]:
    """``job status JOB --json``, parsed."""
    done = run_job(["status", job, "--json"], env)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def held_by(client: sync_redis.Redis, job: str, worker: str) -> int:
    """Batches of ``job`` that ``worker`` holds now (taken and not settled), read in Redis
    itself: a ``job status`` subprocess can take seconds on a loaded host. 0 if the job has
    no stream (not submitted yet, or expired).

    The PING first gives Redis a round to run what the worker had already sent (a settle
    on its way when it was held still with ``held_still``) before the look."""
    client.ping()
    try:
        summary = client.xpending(JobKeys.of(job).batches, GROUP)
    except sync_redis.ResponseError:  # no such stream or group
        return 0
    return sum(int(c["pending"]) for c in summary["consumers"] if _text(c["name"]) == worker)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def wait_for_job(job: str, env: dict[str, str]) -> None:
    """Until the submitter has created the job."""
    while run_job(["status", job], env).returncode != 0:
        time.sleep(0.05)


def report_buckets(job: str, env: dict[str, str], report_dir: Path) -> dict[str, list[str]]:
    """``job report`` now: the summary's equalities checked, and the ids of every bucket."""
    done = run_job(["report", job, "--report-dir", str(report_dir)], env)
    assert done.returncode in (0, 1), done.stderr
    check_report_dir(report_dir)
    return {
        "deleted": read_lines(report_dir / "deleted.txt"),
        "missing": read_lines(report_dir / "missing.txt"),
        "failed": [r["fileId"] for r in read_jsonl(report_dir / "failed.jsonl")],
        "not_attempted": read_lines(report_dir / "not_attempted.txt"),
    }
