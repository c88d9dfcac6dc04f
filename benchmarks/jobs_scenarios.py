"""Distributed jobs: 1, 2 and 4 worker processes on one job, through a private redis-server.

``python -m benchmarks.jobs_scenarios [--quick] [--workers 1 2 4] [--ids N] [--rate R]``
prints JSON. Two measurements per worker count:

* throttled: against a fake server limited to ``R`` requests/s, the share of the limit the
  workers hold together (answers 200 / (R x wall time, first worker start to last exit)) and
  the share of 429 answers;
* unthrottled: ids/s against the number of workers, and the Redis round trips a worker makes
  per request sent (client commands, counted by Redis ``INFO commandstats`` after the submit).

The workers share the account's adaptive budget in Redis (no --rate); ``--budget-args``
passes extra worker options (``--account-rate R``, say).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import KEY, FakeServer, child_env

WORKERS = (1, 2, 4)
#: seconds between readings of the fake server's counters
SAMPLE = 0.05


def worker_pace(rate: float, workers: int) -> list[str]:
    """Each worker's options for a job against a limit of ``rate``: none, the workers share
    the account's adaptive budget in Redis (it learns the limit from the server's 429s)."""
    return []


#: commands a worker sends itself; the ones inside its scripts are not round trips
_CLIENT_COMMANDS = (
    "evalsha",
    "eval",
    "xread",
    "xreadgroup",
    "xautoclaim",
    "xlen",
    "hmget",
    "exec",
)


class _Redis:
    """A private redis-server on a free port (never the machine's own), or one given by URL."""

    @classmethod
    def at(cls, url: str) -> _Redis:
        """A server already running at ``url`` (``--only redis`` starts one)."""
        self = cls.__new__(cls)
        self.port = int(url.rsplit(":", 1)[1].split("/")[0])
        self.process = None
        return self

    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found (Debian: apt-get install redis-server)")
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(directory),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while self.cli("PING") != "PONG":
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    def client_commands(self) -> int:
        total = 0
        for line in self.cli("INFO", "commandstats").splitlines():
            name, _, rest = line.partition(":")
            if name.removeprefix("cmdstat_") in _CLIENT_COMMANDS:
                total += int(rest.split(",")[0].removeprefix("calls="))
        return total

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait()


def _bulkdel(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulkdel", "job", *args],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **kw,
    )


def run_job(
    redis: _Redis,
    server: FakeServer,
    ids_file: Path,
    workers: int,
    job: str,
    worker_args: list[str],
) -> dict[str, Any]:
    """Submit ``ids_file`` whole, then run ``workers`` worker processes to the end."""
    env = child_env(BULKDEL_REDIS_URL=redis.url, IMAGE_KIT_BASE_URL=server.url)
    submit = _bulkdel(
        ["submit", str(ids_file), "--job", job, "--max-open", "1000000", "--allow-insecure-http"],
        env,
    )
    _, err = submit.communicate()
    if submit.returncode != 0:
        raise RuntimeError(f"submit failed: {err}")
    redis.cli("CONFIG", "RESETSTAT")
    before = server.stats()
    started = time.monotonic()
    procs = [
        _bulkdel(["worker", "--job", job, "--allow-insecure-http", *worker_args], env)
        for _ in range(workers)
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed: {err}")
    elapsed = time.monotonic() - started
    after = server.stats()
    requests = after["requests"] - before["requests"]
    ok = after["by_status"].get("200", 0) - before["by_status"].get("200", 0)
    throttled = after["by_status"].get("429", 0) - before["by_status"].get("429", 0)
    ids = after["ids_deleted"] - before["ids_deleted"]
    span = _span(server, before["requests"], after["requests"]) or elapsed
    return {
        "workers": workers,
        "seconds": round(elapsed, 2),
        "span_s": round(span, 2),
        "requests": requests,
        "ids_per_s": round(ids / span, 1),
        "share_429": round(throttled / requests, 4) if requests else 0.0,
        "answers_200": ok,
        "redis_round_trips_per_request": round(redis.client_commands() / requests, 2),
    }


def _span(server: FakeServer, first: int, last: int) -> float | None:
    """Seconds from the run's first request to its last answer, from the server's samples
    (process start-up and the workers' wait for the end are not the workers' pace)."""
    times = [x.t for x in server.samples if first < x.requests]
    ends = [x.t for x in server.samples if x.requests >= last]
    if not times or not ends:
        return None
    return max(ends[0] - times[0], 1e-3)


def _ids(path: Path, count: int, start: int) -> Path:
    """A file of ``count`` new ids (each run deletes its own: the server deletes once)."""
    path.write_text("".join(f"{n:024x}\n" for n in range(start, start + count)))
    return path


def run_workers(cfg: Any, work: Path, redis_url: str) -> dict[str, Any]:
    """The ``--only redis`` group's runner (``redis_scenarios.EXTRA``): job workers."""
    redis = _Redis.at(redis_url)
    block: dict[str, Any] = {"limited": [], "unthrottled": []}
    requests = math.ceil(cfg.rate * cfg.rate_seconds)
    with FakeServer(rate=cfg.rate, sample_every=SAMPLE) as server:
        for n in WORKERS:
            ids = _ids(work / f"job_t{n}.txt", requests * 100, n << 40)
            fig = run_job(redis, server, ids, n, f"bench-t{n}", worker_pace(cfg.rate, n))
            fig["held_share"] = round(fig["answers_200"] / (cfg.rate * fig["span_s"]), 3)
            block["limited"].append(fig)
    with FakeServer(sample_every=SAMPLE) as server:
        for n in WORKERS:
            ids = _ids(work / f"job_u{n}.txt", cfg.ids, (n << 40) + (1 << 48))
            block["unthrottled"].append(run_job(redis, server, ids, n, f"bench-u{n}", []))
    block["markdown"] = _markdown(block, cfg.rate)
    return {"workers": block}


def _markdown(block: dict[str, Any], rate: float) -> list[str]:
    lines = [
        f"Job workers (`bulkdel job worker`), one job, limit {rate:g} req/s:",
        "",
        "| workers | held share of the limit | 429 share | unthrottled ids/s | "
        "Redis round trips / request |",
        "|---|---|---|---|---|",
    ]
    for limited, free in zip(block["limited"], block["unthrottled"], strict=True):
        lines.append(
            f"| {limited['workers']} | {limited['held_share']:.2f} | {limited['share_429']:.2%} "
            f"| {free['ids_per_s']:,.0f} | {free['redis_round_trips_per_request']:.2f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jobs_scenarios")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--ids", type=int, default=60_000)
    parser.add_argument("--unthrottled-ids", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--budget-args", default="", help="extra worker options, one string")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.ids, args.unthrottled_ids = 3_000, 10_000
    results: dict[str, Any] = {"rate": args.rate, "throttled": [], "unthrottled": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis = _Redis(work)
        try:
            with FakeServer(rate=args.rate, sample_every=SAMPLE) as server:
                for n in args.workers:
                    ids_file = _ids(work / f"t{n}.txt", args.ids, n << 40)
                    extra = args.budget_args.split() or worker_pace(args.rate, n)
                    fig = run_job(redis, server, ids_file, n, f"t{n}", extra)
                    fig["held_share"] = round(fig["answers_200"] / (args.rate * fig["span_s"]), 3)
                    results["throttled"].append(fig)
                    print(json.dumps(fig), file=sys.stderr)
            with FakeServer(sample_every=SAMPLE) as server:
                for n in args.workers:
                    big = _ids(work / f"u{n}.txt", args.unthrottled_ids, (n << 40) + (1 << 48))
                    fig = run_job(redis, server, big, n, f"u{n}", [])
                    results["unthrottled"].append(fig)
                    print(json.dumps(fig), file=sys.stderr)
        finally:
            redis.stop()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["KEY", "main", "run_job"]
