"""A neighbour that leaves (``python -m benchmarks.neighbour_leaves [--ref REF] [--runs N]``):
another client spends 60 of the account's 100 requests/s, then stops; how soon does a job
take the freed limit back?

Each run starts a fresh fake server process (``--rate 100``, the 429 stating the limit, or
saying nothing with ``--limit-headers none``), the other client (``budget_contenders
other-client``: 60 requests/s, one id a request, never retrying) and then one bulkdel job
(``budget_contenders bulkdel-jobs``: one ``delete_files()`` call, 8 workers, about 20 s of
work at the limit). Six seconds after the job's launch the other client is stopped. The
fake's counters are read every 250 ms: *answered, Ns after* is the job's requests answered
200 per second (its ids deleted over 100) in the second that begins N seconds after the
other client left; *429s beside it* is the job's share of 429s while the other client ran
(the server's 429s and requests in that time, the other client's own taken out). ``--ref``
measures bulkdel as committed at another git ref (a snapshot of it; ``main`` for before).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import harness
from .harness import KEY, FakeServer, child_env, other_client, stop_other_client, write_ids

RATE = 100.0
SHARE = 0.6
#: seconds from the job's launch to the other client's leaving (start-up included)
LEAVE_AFTER = 6.0
SECONDS = 20.0


def _at(samples: list[harness.Sample], t: float) -> harness.Sample:
    """The last sample at or before server time ``t`` (the first if none)."""
    before = [s for s in samples if s.t <= t]
    return before[-1] if before else samples[0]


def run_one(ids_file: Path, headers: str) -> dict[str, Any]:
    """One run: the other client, the job, the other client's leaving; the figures."""
    server = FakeServer(rate=RATE, sample_every=0.25, extra_args=("--limit-headers", headers))
    with server as fake:
        other = other_client(fake.url, RATE * SHARE)
        argv = [sys.executable, "-m", "benchmarks.budget_contenders", "bulkdel-jobs"]
        argv += [str(ids_file), "--base-url", fake.url, "--key", KEY]
        launched = time.time() - fake.origin
        job = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=child_env(), cwd=harness.CHILD_CWD,
        )  # fmt: skip
        time.sleep(LEAVE_AFTER)
        before_leave = fake.stats()
        others = stop_other_client(other)
        left = time.time() - fake.origin
        out, err = job.communicate(timeout=300)
        samples = list(fake.samples)
    own = next((json.loads(x) for x in reversed(out.splitlines()) if x.startswith("{")), {})
    other_429 = int(others.get("statuses", {}).get("429", 0))
    job_requests = int(before_leave["requests"]) - int(others.get("requests", 0))
    job_429 = int(before_leave["by_status"].get("429", 0)) - other_429
    answered = {}
    for after in (1, 2, 3, 4):
        start, end = _at(samples, left + after), _at(samples, left + after + 1)
        span = end.t - start.t
        done = (end.ids_deleted - start.ids_deleted) / 100  # the job's: 100 ids a request
        answered[after] = round(done / span, 1) if span else 0.0
    return {
        "headers": headers,
        "launched_s": round(launched, 2),
        "left_s": round(left, 2),
        "answered_after_s": answered,
        "job_429_share_beside": round(job_429 / job_requests, 4) if job_requests > 0 else None,
        "job_requests_beside": job_requests,
        "other_requests": int(others.get("requests", 0)),
        "other_429s": other_429,
        "work_s": own.get("elapsed_s"),
        "failed_ids": own.get("failed_ids"),
        "returncode": job.returncode,
        "stderr_tail": err[-500:] if job.returncode else "",
    }


def run(work: Path, runs: int) -> dict[str, Any]:
    """Every row: the limit stated and not, ``runs`` times each."""
    ids_file = write_ids(work / "neighbour.txt", int(RATE * SECONDS) * 100)
    rows = []
    for headers in ("full", "none"):
        for _ in range(runs):
            rows.append(run_one(ids_file, headers))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return {"rate": RATE, "share": SHARE, "rows": rows}


def markdown(block: dict[str, Any], command: str) -> list[str]:
    """The section of RESULTS.md."""
    lines = [
        "## A neighbour that leaves",
        "",
        f"`{command}`. " + (__doc__ or "").split("\n\n", 1)[1].replace("\n", " ").strip(),
        "",
        "| 429 says | answered, 1 s after | 2 s | 3 s | 4 s | 429s beside it | ids failed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in block["rows"]:
        said = "the limit" if row["headers"] == "full" else "nothing"
        a = row["answered_after_s"]
        share = row["job_429_share_beside"]
        lines.append(
            f"| {said} | {a[1]} | {a[2]} | {a[3]} | {a[4]} | "
            f"{'-' if share is None else f'{share:.1%}'} | {row['failed_ids']} |"
        )
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Run, write ``benchmarks/neighbour_leaves.json`` and print the markdown section."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.neighbour_leaves")
    parser.add_argument("--ref", help="measure bulkdel as committed at this git ref")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkdel-neighbour-") as tmp:
        if args.ref:
            harness.CHILD_CWD = harness.snapshot(args.ref, Path(tmp) / "code")
        block = run(Path(tmp), args.runs)
    block["ref"] = args.ref
    name = "neighbour_leaves.json" if not args.ref else f"neighbour_leaves_{args.ref}.json"
    out = Path(__file__).with_name(name)
    out.write_text(json.dumps(block, indent=1) + "\n", encoding="utf-8")
    command = "python -m benchmarks.neighbour_leaves" + (f" --ref {args.ref}" if args.ref else "")
    command += f" --runs {args.runs}" if args.runs != 1 else ""
    print("\n".join(markdown(block, command)))


if __name__ == "__main__":
    main()
