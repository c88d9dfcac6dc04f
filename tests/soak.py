"""Fault soak: drive ids through the ``bulkdel delete`` CLI against a faulty fake server.

Each run writes an input file (ids, repeats, bad lines), seeds a ``FakeImageKit`` on loopback
(in a thread with its own event loop) with a mix of every fault it can inject, runs
``python -m bulkdel delete`` as a subprocess, and then checks the report against itself and
against the server's ground truth. ``check_run`` raises ``SoakFailure`` naming the broken rule.

The short variant runs in CI (tests/test_soak.py); the long one is a command::

    python -m tests.soak --minutes 30 --ids 100000        # until the time is up, seed by seed
    python -m tests.soak --seeds 1 2 3 --ids 5000         # given seeds only

It prints one JSON line per run and a JSON total at the end; the exit code is 1 on the first
broken rule (the run's report directory is kept and named).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bulkdel.testing import FakeImageKit, Faults
from bulkdel.testing import fake_server as _fake_server

KEY = "soak_private_key_5e1f0c2b9a"
T = TypeVar("T")

#: per-request fault probabilities (transient_207 is per id)
FAULT_MIX: dict[str, float] = {
    "error_5xx": 0.03,
    "html_error": 0.02,
    "drop_before": 0.02,
    "drop_after": 0.02,
    "slow_after": 0.01,
    "transient_207": 0.002,
    "throttle_burst": 0.03,
}
#: share of the input ids that do not exist on the server (404s)
MISSING_SHARE = 0.01
#: share of the existing ids that always fail with a 207 error (locked files)
LOCKED_SHARE = 0.0005


class SoakFailure(AssertionError):
    """A rule of the report or of the ground truth was broken."""


@dataclass
class RunResult:
    """What one soak run did and found."""

    seed: int
    ids: int
    exit_code: int
    elapsed_s: float
    counts: dict[str, int]
    requests: dict[str, Any]
    faults: dict[str, int]
    server_by_status: dict[str, int]
    locked: int
    #: server-deleted ids reported failed as "outcome unknown" (honest, but not deleted/missing)
    unknown_but_deleted: int = 0
    #: existing, unlocked ids that failed (attempts exhausted by faults)
    exhausted: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


class ServerThread:
    """A ``FakeImageKit`` served on loopback from its own thread and event loop."""

    def __init__(self, server: FakeImageKit) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def __enter__(self) -> FakeImageKit:
        self._thread.start()
        self._call(self.server.start("127.0.0.1", 0))
        return self.server

    def __exit__(self, *exc: object) -> None:
        try:
            self._call(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
            self.loop.close()


_original_headers = _fake_server.rate_limit_headers


def _burst_headers(limit: int, reset: float, interval: float) -> dict[str, str]:
    """The fake's ``throttle_burst`` 429s announce "1 request per second" (limit 1, 1000 ms),
    which bulkdel rightly takes as a hard ceiling for the rest of the run: a 100,000-id soak
    would crawl at 1 req/s. A burst from a real server states the real limit; say 10,000/s."""
    if (limit, reset, interval) == (1, 0.05, 1.0):
        limit = 10_000
    return _original_headers(limit, reset, interval)


def make_input(path: Path, count: int, rng: random.Random) -> list[str]:
    """Write ``count`` unique ids (plus repeats, bad lines, a comment); return the ids."""
    ids = [f"{rng.getrandbits(96):024x}" for _ in range(count)]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("# soak input\n")
        for n, file_id in enumerate(ids):
            handle.write(file_id + "\n")
            if n % 997 == 0:
                handle.write(ids[rng.randrange(n + 1)] + "\n")
            if n % 1999 == 1:
                handle.write("not/an id\n")
    return ids


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines(path)]


def check_run(
    report_dir: Path,
    exit_code: int,
    stdout: str,
    ids: list[str],
    existing: set[str],
    locked: set[str],
    server_deleted: set[str],
) -> tuple[int, int]:
    """Check the report and the ground truth; returns (unknown_but_deleted, exhausted).

    Raises:
        SoakFailure: the first rule broken, with the evidence.
    """

    def require(ok: bool, rule: str, evidence: Any = "") -> None:
        if not ok:
            raise SoakFailure(f"{rule} ({report_dir}): {str(evidence)[:500]}")

    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    require(json.loads(stdout) == summary, "--json output is summary.json")
    c = summary["counts"]
    require(
        c["read"] == c["invalid"] + c["duplicate"] + c["unique"], "read = invalid+dup+unique", c
    )
    require(
        c["unique"] == c["deleted"] + c["missing"] + c["failed"] + c["not_attempted"],
        "unique = deleted+missing+failed+not_attempted",
        c,
    )
    require(c["unique"] == len(ids), "every unique id read", c)
    require(c["not_attempted"] == 0 and summary["complete"], "run complete", summary)
    require(summary["aborted"] is None, "not aborted", summary["aborted"])

    deleted = _lines(report_dir / "deleted.txt")
    missing = _lines(report_dir / "missing.txt")
    after_retry = _lines(report_dir / "missing_after_retry.txt")
    failed = _jsonl(report_dir / "failed.jsonl")
    failed_ids = [f["fileId"] for f in failed]
    require(len(deleted) == c["deleted"], "deleted.txt matches its count")
    require(len(missing) == c["missing"], "missing.txt matches its count")
    require(len(failed) == c["failed"], "failed.jsonl matches its count")
    require(len(after_retry) == c["missing_after_retry"], "missing_after_retry.txt count")
    require(len(_lines(report_dir / "not_attempted.txt")) == 0, "not_attempted.txt empty")
    require(len(_lines(report_dir / "duplicates.txt")) == c["duplicate"], "duplicates count")
    require(len(_jsonl(report_dir / "invalid.jsonl")) == c["invalid"], "invalid count")

    d, m, f = set(deleted), set(missing), set(failed_ids)
    require(len(d) == len(deleted), "no id deleted twice in the report")
    require(len(m) == len(missing) and len(f) == len(failed), "no id listed twice")
    require(not (d & m or d & f or m & f), "each id in one bucket", (d & m) | (d & f) | (m & f))
    require(d | m | f == set(ids), "every id accounted", set(ids) ^ (d | m | f))
    require(set(after_retry) <= m, "missing_after_retry within missing")

    # Ground truth.
    require(d <= server_deleted, "reported deleted but not deleted", d - server_deleted)
    unknown = {x["fileId"] for x in failed if x["error"].startswith("outcome unknown")}
    stray = server_deleted - d - m - unknown
    require(not stray, "deleted by the server but not reported deleted or missing", stray)
    require(server_deleted <= existing, "server deleted an id it did not hold")
    not_deleted = existing - server_deleted
    require(not_deleted <= f, "existing id neither deleted nor failed", not_deleted - f)
    require(locked <= f, "locked ids failed", locked - f)
    require(m <= (set(ids) - existing) | server_deleted, "reported missing but still exists")
    # A locked id's last error is usually the server's 207 message, but when its last
    # attempt met a dropped connection it is that error: the last reason is what is reported.
    exhausted = (f - locked) & existing
    expected_exit = 1 if f else 0
    require(exit_code == expected_exit, "exit code", (exit_code, expected_exit))
    return len(unknown & server_deleted), len(exhausted)


def run_once(
    seed: int,
    count: int,
    workdir: Path,
    *,
    timeout: float = 0.5,
    concurrency: int = 16,
    max_attempts: int = 6,
) -> RunResult:
    """One soak run: input, faulty server, CLI subprocess, checks. Raises SoakFailure."""
    rng = random.Random(seed)
    source = workdir / f"ids-{seed}.txt"
    ids = make_input(source, count, rng)
    existing = {i for i in ids if rng.random() >= MISSING_SHARE}
    locked = {i for i in sorted(existing) if rng.random() < LOCKED_SHARE}
    faults = Faults(
        seed=seed,
        permanent_errors=frozenset(locked),
        slow_seconds=timeout * 2 + 0.5,
        **FAULT_MIX,  # type: ignore[arg-type]
    )
    server = FakeImageKit(KEY, existing=existing, faults=faults)
    report_dir = workdir / f"report-{seed}"
    env = {**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY}
    env.pop("IMAGE_KIT_BASE_URL", None)
    started = time.monotonic()
    _fake_server.rate_limit_headers = _burst_headers  # see _burst_headers
    with ServerThread(server):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bulkdel",
                "delete",
                str(source),
                "--base-url",
                server.url,
                "--report-dir",
                str(report_dir),
                "--timeout",
                str(timeout),
                "--concurrency",
                str(concurrency),
                "--max-attempts",
                str(max_attempts),
                "--json",
                "--quiet",
                "--yes",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    elapsed = time.monotonic() - started
    if "Traceback" in proc.stderr or proc.returncode not in (0, 1):
        raise SoakFailure(f"seed {seed}: exit {proc.returncode}: {proc.stderr[-2000:]}")
    if KEY in proc.stdout + proc.stderr:
        raise SoakFailure(f"seed {seed}: the key appears in the CLI's output")
    # FakeImageKit copies ``existing``, so ours is still the set at the start.
    unknown, exhausted = check_run(
        report_dir, proc.returncode, proc.stdout, ids, existing, locked, set(server.deleted)
    )
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    return RunResult(
        seed=seed,
        ids=count,
        exit_code=proc.returncode,
        elapsed_s=round(elapsed, 2),
        counts=summary["counts"],
        requests=summary["requests"],
        faults=dict(server.stats.faults),
        server_by_status={str(k): v for k, v in sorted(server.stats.by_status.items())},
        locked=len(locked),
        unknown_but_deleted=unknown,
        exhausted=exhausted,
    )


def main(argv: list[str] | None = None) -> int:
    """The long soak: run seeds until the time is up (or the given seeds); print figures."""
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--ids", type=int, default=100_000, help="unique ids per run")
    parser.add_argument("--minutes", type=float, default=30.0, help="keep starting runs until")
    parser.add_argument("--seeds", type=int, nargs="*", help="run exactly these seeds")
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=0.5, help="the CLI's --timeout")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-attempts", type=int, default=6)
    parser.add_argument("--workdir", type=Path, help="keep inputs and reports here")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.minutes * 60
    totals: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    seeds: list[int] = []
    with tempfile.TemporaryDirectory(prefix="bulkdel-soak-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        seed_iter = iter(args.seeds) if args.seeds else _count_from(args.first_seed)
        for seed in seed_iter:
            if not args.seeds and time.monotonic() >= deadline:
                break
            try:
                result = run_once(
                    seed,
                    args.ids,
                    workdir,
                    timeout=args.timeout,
                    concurrency=args.concurrency,
                    max_attempts=args.max_attempts,
                )
            except SoakFailure as exc:
                print(json.dumps({"seed": seed, "FAILED": str(exc)}), flush=True)
                if args.workdir is None:
                    kept = Path(tempfile.mkdtemp(prefix="bulkdel-soak-failed-"))
                    os.rename(workdir / f"report-{seed}", kept / f"report-{seed}")
                    print(f"report kept in {kept}", file=sys.stderr)
                return 1
            print(json.dumps(result.as_dict()), flush=True)
            seeds.append(seed)
            faults.update(result.faults)
            statuses.update(result.server_by_status)
            for key, value in result.counts.items():
                totals[key] += value
            totals["requests_sent"] += result.requests["sent"]
            totals["locked"] += result.locked
            totals["unknown_but_deleted"] += result.unknown_but_deleted
            totals["exhausted"] += result.exhausted
            shutil.rmtree(workdir / f"report-{seed}", ignore_errors=True)
            (workdir / f"ids-{seed}.txt").unlink(missing_ok=True)
    print(
        json.dumps(
            {
                "runs": len(seeds),
                "seeds": seeds,
                "ids_per_run": args.ids,
                "totals": dict(totals),
                "faults_injected": dict(sorted(faults.items())),
                "server_by_status": dict(sorted(statuses.items())),
                "lost": 0,
            }
        ),
        flush=True,
    )
    return 0


def _count_from(start: int) -> Iterator[int]:
    n = start
    while True:
        yield n
        n += 1


if __name__ == "__main__":
    sys.exit(main())
