"""A distributed job at scale: N ids over 4 workers against a stated limit, through a private
redis-server (``python -m benchmarks.jobs_scale [--sizes N ...] [--rate R] [--quick]``).

For each size, on a fresh redis-server (no persistence) and a fake ImageKit limited to ``R``
requests/s that states its limit: ``job submit`` of the whole file, then 4 ``job worker``
processes to the end. Measured: the share of the limit the workers held together (answers
200 / (R x the span from the first request to the last answer)), the share of 429 answers,
the bytes an id Redis keeps after the job (``INFO memory`` used_memory after the workers
ended, less before the submit, over N), and ``job report``'s peak RSS and wall time. At the
first size only, one worker is killed with SIGKILL a third of the way through, and the time
until its batches are all taken over by the others is measured (its pending count in the
stream's consumer group falls to 0).

30M and 100M ids are extrapolated from the measured points by a least-squares line (each
figure grows linearly with N by design: the report streams, Redis holds a fixed cost an id).
Writes ``jobs_scale.json`` and ``jobs_scale.png`` (with matplotlib) next to this file and
prints the section of ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import FakeServer, child_env
from .jobs_scenarios import SAMPLE, _Redis, _span

WORKERS = 4
EXTRAPOLATE = (30_000_000, 100_000_000)
#: prints the peak RSS (KiB) of the command given as its arguments, after running it
_PEAK_RSS = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)"
)


def _used_memory(redis: _Redis) -> int:
    for line in redis.cli("INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":", 1)[1])
    raise RuntimeError("no used_memory in INFO memory")


def _job(*args: str, env: dict[str, str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulkdel", "job", *args],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **kw,
    )


def _write_ids(path: Path, count: int, start: int) -> Path:
    with path.open("w", encoding="ascii") as out:
        step = 100_000
        for first in range(start, start + count, step):
            last = min(first + step, start + count)
            out.write("".join(f"{n:024x}\n" for n in range(first, last)))
    return path


def _pending_of(redis: _Redis, job: str, consumer: str) -> int:
    """Batches the consumer ``consumer`` holds in the job's stream."""
    answer = redis.cli("XINFO", "CONSUMERS", f"bulkdel:job:{{{job}}}:batches", "workers")
    lines = answer.splitlines()
    for i, line in enumerate(lines):
        if line == consumer and i >= 1 and lines[i - 1] == "name":
            return int(lines[i + 2]) if lines[i + 1] == "pending" else 0
    return 0


def _takeover(redis: _Redis, job: str, procs: list[subprocess.Popen[str]], total: int) -> float:
    """Kill worker w0 once a third of the batches are settled; seconds until its batches are
    all taken over."""
    counts = f"bulkdel:job:{{{job}}}:counts"
    while int(redis.cli("HGET", counts, "batches_settled") or 0) < total // 3:
        time.sleep(0.05)
    held = _pending_of(redis, job, "w0")
    procs[0].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    while _pending_of(redis, job, "w0") > 0:
        time.sleep(0.05)
    print(f"  killed w0 holding {held} batches", file=sys.stderr, flush=True)
    return time.monotonic() - killed


def measure(size: int, rate: float, work: Path, *, kill: bool) -> dict[str, Any]:
    """One size: submit, 4 workers, the report; the figures of one row."""
    directory = work / f"n{size}"
    directory.mkdir()
    redis = _Redis(directory)
    ids = _write_ids(directory / "ids.txt", size, size << 20)
    job = f"scale{size}"
    try:
        with FakeServer(rate=rate, sample_every=SAMPLE) as server:
            env = child_env(BULKDEL_REDIS_URL=redis.url, IMAGE_KIT_BASE_URL=server.url)
            before = _used_memory(redis)
            started = time.monotonic()
            submit = _job("submit", str(ids), "--job", job, "--max-open", "1000000", "--yes",
                          "--allow-insecure-http", env=env)  # fmt: skip
            if submit.wait() != 0:
                raise RuntimeError(
                    f"submit failed: {submit.stderr.read() if submit.stderr else ''}"
                )
            submitted = time.monotonic() - started
            first = server.stats()["requests"]
            procs = [
                _job(
                    "worker",
                    "--job",
                    job,
                    "--name",
                    f"w{n}",
                    "--allow-insecure-http",
                    "--record-dir",
                    str(directory / f"record{n}"),
                    env=env,
                )
                for n in range(WORKERS)
            ]
            takeover = _takeover(redis, job, procs, -(-size // 100)) if kill else None
            for n, proc in enumerate(procs):
                _, err = proc.communicate()
                if proc.returncode != 0 and not (kill and n == 0):
                    raise RuntimeError(f"worker w{n} exited {proc.returncode}: {err}")
            after = server.stats()
            span = _span(server, first, after["requests"]) or 1.0
            ok = after["by_status"].get("200", 0)
            throttled = after["by_status"].get("429", 0)
            used = _used_memory(redis) - before
            report_started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-c", _PEAK_RSS, sys.executable, "-m", "bulkdel", "job",
                 "report", "--job", job, "--report-dir", str(directory / "report")],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            report_s = time.monotonic() - report_started
            summary = json.loads((directory / "report" / "summary.json").read_text())
        row = {
            "ids": size,
            "submit_s": round(submitted, 1),
            "job_s": round(span, 1),
            "held_share": round(ok / (rate * span), 3),
            "share_429": round(throttled / max(after["requests"], 1), 4),
            "redis_bytes_per_id": round(used / size, 2),
            "report_peak_rss_mib": round(int(done.stdout.split()[-1]) / 1024, 1),
            "report_s": round(report_s, 1),
            "report_complete": summary.get("complete"),
            "deleted": summary["counts"]["deleted"],
            "takeover_s": None if takeover is None else round(takeover, 1),
        }
    finally:
        redis.stop()
        for leftover in directory.glob("ids.txt"):
            leftover.unlink()
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def extrapolate(rows: list[dict[str, Any]], field: str, size: int) -> float | None:
    """``field`` at ``size`` ids on the least-squares line through the measured points."""
    if field == "report_peak_rss_mib":  # bounded by design (the report streams): no trend
        return max((r[field] for r in rows), default=None)
    per_id = field == "redis_bytes_per_id"  # fitted as the total, a fixed part and a cost an id
    points = [(r["ids"], r[field] * (r["ids"] if per_id else 1)) for r in rows]
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx if sxx else 0.0
    at = mean_y + slope * (size - mean_x)
    return at / size if per_id else at


_FIELDS = ("job_s", "redis_bytes_per_id", "report_peak_rss_mib", "report_s")


def markdown(results: dict[str, Any]) -> list[str]:
    """The section of RESULTS.md."""
    lines = [
        "## A job at scale (4 workers, Redis)",
        "",
        f"`python -m benchmarks.jobs_scale`, {results['started']}, git {results['commit']}, "
        f"limit {results['rate']:g} requests/s stated by the fake server, {WORKERS} workers. "
        + (__doc__ or "").split("\n\n", 1)[1].split("\n\n", 1)[0].replace("\n", " "),
        "",
        "| ids | submit s | job s | held share | 429 share | Redis B/id | report peak MiB "
        "| report s | complete | takeover s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['ids']:,} | {r['submit_s']} | {r['job_s']} | {r['held_share']:.2f} | "
            f"{r['share_429']:.2%} | {r['redis_bytes_per_id']:.1f} | "
            f"{r['report_peak_rss_mib']:.0f} | {r['report_s']} | {r['report_complete']} | "
            f"{'' if r['takeover_s'] is None else r['takeover_s']} |"
        )
    for size, row in results["extrapolated"].items():
        lines.append(f"| {int(size):,} (extrapolated) | | {_extrapolated_cells(row)} | | |")
    if results.get("chart"):
        lines += ["", f"![a job at scale]({results['chart']})"]
    return [*lines, ""]


def _extrapolated_cells(row: dict[str, Any]) -> str:
    def cell(field: str, fmt: str) -> str:
        return "" if row[field] is None else format(row[field], fmt)

    return " | ".join(
        [cell("job_s", ".0f"), "", "", cell("redis_bytes_per_id", ".1f"),
         cell("report_peak_rss_mib", ".0f"), cell("report_s", ".0f")]
    )  # fmt: skip


def draw(results: dict[str, Any], path: Path) -> str | None:
    """Report memory and Redis bytes against ids, measured and extrapolated."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = results["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, field, title in zip(
        axes,
        ("report_peak_rss_mib", "redis_bytes_per_id", "report_s"),
        ("job report peak RSS (MiB)", "Redis bytes an id after the job", "job report seconds"),
        strict=True,
    ):
        xs = [r["ids"] / 1e6 for r in rows]
        ax.plot(xs, [r[field] for r in rows], "o-", label="measured")
        ext = [(int(k) / 1e6, v[field]) for k, v in results["extrapolated"].items()]
        if ext and all(v is not None for _, v in ext):
            ax.plot([xs[-1], *(x for x, _ in ext)], [rows[-1][field], *(v for _, v in ext)],
                    "o--", label="extrapolated")  # fmt: skip
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("ids (millions)")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path.name


def _finish(results: dict[str, Any], here: Path, *, keep: bool = True) -> None:
    """Extrapolate; with ``keep``, draw and keep the figures in ``jobs_scale.json``."""
    results["extrapolated"] = {
        str(size): {f: extrapolate(results["rows"], f, size) for f in _FIELDS}
        for size in EXTRAPOLATE
    }
    if not keep:
        return
    results["chart"] = draw(results, here / "jobs_scale.png")
    (here / "jobs_scale.json").write_text(json.dumps(results, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jobs_scale")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--quick", action="store_true", help="20,000 and 60,000 ids")
    parser.add_argument("--no-kill", action="store_true", help="skip the takeover measurement")
    parser.add_argument("--render-only", action="store_true", help="redraw from jobs_scale.json")
    args = parser.parse_args(argv)
    here = Path(__file__).parent
    if args.render_only:
        results = json.loads((here / "jobs_scale.json").read_text())
        _finish(results, here)
        print("\n".join(markdown(results)))
        return 0
    if args.quick:
        args.sizes = [20_000, 60_000]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit,
        "rate": args.rate,
        "load_avg": os.getloadavg(),
        "rows": [],
    }
    with tempfile.TemporaryDirectory(prefix="bulkdel-jobs-scale-") as tmp:
        for i, size in enumerate(args.sizes):
            results["rows"].append(
                measure(size, args.rate, Path(tmp), kill=i == 0 and not args.no_kill)
            )
    _finish(results, here, keep=not args.quick)
    print("\n".join(markdown(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
