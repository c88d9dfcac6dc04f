"""A first contact with the limit (``python -m benchmarks.first_contact``): the 429s that 1, 2
and 8 jobs starting together draw, with the slow start and without it (how it was before).

Each run starts a fresh fake server process (``--rate 100 --burst 20``: the bucket the fake's
``Limiter`` keeps, full at the start; the 429 states the limit, or says nothing with
``--limit-headers none``) and one contender process: ``K`` concurrent ``delete_files()``
calls sharing one budget (8 workers each), about 5 s of work at the limit. The fake's
counters are read every 50 ms: *429s, 1st s* are the server's 429s in the first second after
its first request, *5 s* in the first five. *Throughput* is the slow start's over the
unpaced start's (the same work; the contender's timed section). Also: one job against no
limit (200,000 ids, as in the throughput group), and one job beside a service's own
traffic (another client spending 30 requests/s on the account, never retrying): the 429s
the service's own requests drew.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import harness
from .harness import (
    KEY,
    FakeServer,
    child_env,
    other_client,
    run_timed,
    stop_other_client,
    write_ids,
)

RATE = 100.0
BURST = 20
SECONDS = 5.0


def _first_429s(
    samples: list[harness.Sample], within: float, since: float | None = None
) -> int | None:
    """429s in the ``within`` seconds after ``since`` (server time; default: the server's
    first request); None when no request came."""
    first = next((s.t for s in samples if s.requests > 0), None) if since is None else since
    if first is None:
        return None
    before = [s.throttled for s in samples if s.t <= first] if since is not None else []
    seen = [s.throttled for s in samples if s.t <= first + within]
    return (seen[-1] if seen else 0) - (before[-1] if before else 0)


def run_one(
    ids_file: Path,
    jobs: int,
    *,
    slow_start: bool,
    rate: float | None = RATE,
    headers: str = "full",
    other: float = 0.0,
) -> dict[str, Any]:
    """One contender run against a fresh fake server; its figures."""
    extra = ("--limit-headers", headers) + (("--burst", str(BURST)) if rate else ())
    server = FakeServer(rate=rate, sample_every=0.05, extra_args=extra)
    with server as fake:
        beside = other_client(fake.url, other) if other else None
        argv = [
            sys.executable,
            "-m",
            "benchmarks.budget_contenders",
            "bulkdel-jobs",
            str(ids_file),
            "--base-url",
            fake.url,
            "--key",
            KEY,
            "--jobs",
            str(jobs),
        ]
        argv += [] if slow_start else ["--no-slow-start"]
        try:
            proc = run_timed(argv, env=child_env(), timeout=300)
        finally:
            others = stop_other_client(beside) if beside is not None else {}
        stats = fake.stats()
        samples = list(fake.samples)
        launched = proc.started_at - fake.origin
    own = proc.json_stdout() or {}
    other_429 = int(others.get("statuses", {}).get("429", 0))
    return {
        "jobs": jobs,
        "slow_start": slow_start,
        "headers": headers,
        "rate": rate,
        "work_s": round(float(own.get("elapsed_s", proc.wall_s)), 3),
        "requests": int(stats["requests"]) - int(others.get("requests", 0)),
        "429s": int(stats["by_status"].get("429", 0)) - other_429,
        "429s_first_s": _first_429s(samples, 1.0),
        "429s_first_5s": _first_429s(samples, 5.0),
        # server-wide (the service's too), from the job's launch: start-up, then its first s
        "429s_after_launch_2s": _first_429s(samples, 2.0, since=launched),
        "other_requests": int(others.get("requests", 0)),
        "other_429s": other_429,
        "failed_ids": own.get("failed_ids"),
        "returncode": proc.returncode,
    }


def run(work: Path) -> dict[str, Any]:
    """Every row, with and without the slow start."""
    ids_file = write_ids(work / "first_contact.txt", int(RATE * SECONDS) * 100)
    rows: list[dict[str, Any]] = []
    for headers in ("full", "none"):
        for jobs in (1, 2, 8):
            for slow_start in (True, False):
                rows.append(run_one(ids_file, jobs, slow_start=slow_start, headers=headers))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    beside = [run_one(ids_file, 1, slow_start=s, other=0.3 * RATE) for s in (True, False)]
    free_ids = write_ids(work / "first_contact_free.txt", 200_000)
    free = [run_one(free_ids, 1, slow_start=s, rate=None) for s in (True, False)]
    return {"rate": RATE, "burst": BURST, "rows": rows, "beside": beside, "free": free}


def _cost(slow: dict[str, Any], unpaced: dict[str, Any]) -> str:
    """Throughput with the slow start over throughput without it (same work)."""
    return f"{unpaced['work_s'] / slow['work_s']:.2f}" if slow["work_s"] else "-"


def markdown(block: dict[str, Any]) -> list[str]:
    """The section of RESULTS.md."""
    lines = [
        "## First contact: the slow start",
        "",
        (__doc__ or "").split("\n\n", 1)[1].replace("\n", " ").strip(),
        "",
        f"Limit {block['rate']:g} requests/s, burst {block['burst']}.",
        "",
        "| 429 says | jobs | 429s, 1st s | 5 s | all | unpaced: 1st s | 5 s | all | throughput |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = block["rows"]
    for slow, unpaced in zip(rows[::2], rows[1::2], strict=True):
        lines.append(
            f"| {'the limit' if slow['headers'] == 'full' else 'nothing'} | {slow['jobs']} | "
            f"{slow['429s_first_s']} | {slow['429s_first_5s']} | {slow['429s']} | "
            f"{unpaced['429s_first_s']} | {unpaced['429s_first_5s']} | {unpaced['429s']} | "
            f"{_cost(slow, unpaced)} |"
        )
    slow, unpaced = block["beside"]
    lines += [
        "",
        f"Beside a service's own traffic (30 requests/s, limit stated): in the 2 s after the "
        f"job's launch (its start-up, then its first contact) the server refused "
        f"{slow['429s_after_launch_2s']} requests (job and service) with the slow start, "
        f"{unpaced['429s_after_launch_2s']} without; over the whole run the service's own "
        f"requests drew {slow['other_429s']} and {unpaced['other_429s']} 429s of about "
        f"{slow['other_requests']}, the job {slow['429s']} and {unpaced['429s']} (the steady "
        "state: a pace at the stated limit while the service spends 30% of it, until the "
        "target share cuts it).",
    ]
    slow, unpaced = block["free"]
    lines += [
        "",
        f"Against no limit (200,000 ids, 8 in flight): {slow['work_s']:.2f} s with the slow "
        f"start, {unpaced['work_s']:.2f} s without (throughput {_cost(slow, unpaced)}: the "
        "ramp from 50 requests/s to the job's own pace, about a second, once per start).",
        "",
    ]
    return lines


def main() -> None:
    """Run, write ``benchmarks/first_contact.json`` and print the markdown section."""
    with tempfile.TemporaryDirectory(prefix="bulkdel-first-contact-") as tmp:
        block = run(Path(tmp))
    out = Path(__file__).with_name("first_contact.json")
    out.write_text(json.dumps(block, indent=1) + "\n", encoding="utf-8")
    print("\n".join(markdown(block)))


if __name__ == "__main__":
    main()
