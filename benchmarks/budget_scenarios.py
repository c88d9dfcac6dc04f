"""The shared-budget group (``python -m benchmarks --only budget``): every floor row of the
issue "The account's rate limit is shared", on real processes against the fake server.

Each row starts a fresh fake server process (``--rate``, ``--window``, ``--limit-headers``,
``--other-traffic`` and, for the "+5xx" rows, 2% 5xx and 0.5% HTML 502s), maybe another
client process spending 40% of the limit, and one contender process: bulkdel's library with
``--jobs K`` concurrent ``delete_files()`` calls (one budget by default), or imagekitio's
``AsyncImageKit`` beside it where a single job applies.

Figures: *of limit* is requests the server let through (2xx and 5xx: both spent the limit)
per second of the contender's own timed section, over R (over the 60% left by the other
client); as in ``throttled``, the fake's bucket starts full, so a client that spends that
first burst can score a little over 1 (R requests in a 15 s job: up to 1.07, less when a
random refusal paces it before); the long window's is *of ideal*
(each window's quota spent at once, from when the timed section began, as in ``throttled``).
The 429 share is the contender's 429s over its requests (the other client's are subtracted).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import harness
from .harness import KEY, FakeServer, child_env, run_timed, write_ids
from .scenarios import Config, ideal_window_seconds

FAULTS = ("--error-5xx", "0.02", "--html-error", "0.005")


@dataclass(frozen=True)
class Row:
    """One floor row: the server, the traffic beside the job, the jobs, the floor."""

    key: str
    label: str
    floor: float
    cap: float | None
    rate: float | None = None
    window: tuple[int, float] | None = None
    headers: str = "full"
    other_traffic: float = 0.0
    other_client: float = 0.0
    jobs: int = 1
    faults: bool = False
    sdk: bool = True
    #: seconds of work at the limit, when not the group's default: 8 jobs start with 64
    #: requests in flight, all refused at the first 429 (see ``first_contact_429s``), so
    #: their row runs long enough for the steady state to be what is measured
    seconds: float | None = None

    @property
    def limit(self) -> float:
        """Requests per second the server allows in the long run."""
        if self.window is not None:
            return self.window[0] / self.window[1]
        assert self.rate is not None
        return self.rate

    def server_args(self) -> list[str]:
        """The fake server's options beyond ``--rate``/``--window``."""
        args = ["--limit-headers", self.headers]
        if self.other_traffic:
            args += ["--other-traffic", str(self.other_traffic)]
        return args + (list(FAULTS) if self.faults else [])


def rows(rate: float, window: tuple[int, float]) -> list[Row]:
    """The floors table: each row alone, then with 2% 5xx and 0.5% HTML 502s."""
    base = [
        Row("stated", "alone, limit stated in the 429", 0.97, 0.01, rate=rate),
        Row("window", f"alone, fixed window {window[0]}/{window[1]:g} s", 0.97, 0.01,
            window=window),
        Row("retry_after", "alone, 429 with only Retry-After", 0.90, 0.05, rate=rate,
            headers="retry-after"),
        Row("no_header", "alone, 429 with no header", 0.90, 0.05, rate=rate, headers="none"),
        Row("random", "1% refused at random by other traffic", 0.90, None, rate=rate,
            other_traffic=0.01),
        Row("other_client", "another client spends 40% of R", 0.90, 0.05, rate=rate,
            other_client=0.4),
        Row("jobs2", "2 jobs in one process, one budget", 0.95, 0.02, rate=rate, jobs=2,
            sdk=False),
        Row("jobs8", "8 jobs in one process, one budget", 0.95, 0.02, rate=rate, jobs=8,
            sdk=False, seconds=60.0),
    ]  # fmt: skip
    faulty = [
        dataclasses.replace(r, key=r.key + "+5xx", label=r.label + " +5xx/502", faults=True,
                            sdk=False)
        for r in base
    ]  # fmt: skip
    return [r for pair in zip(base, faulty, strict=True) for r in pair]


def _requests_for(row: Row, seconds: float, cfg: Config, quick: bool) -> int:
    if row.window is not None:
        return row.window[0] * cfg.window_count + 1
    if row.seconds is not None and not quick:
        seconds = row.seconds
    return math.ceil(row.limit * (1.0 - row.other_client) * seconds)


def _contender_argv(name: str, row: Row, ids_file: Path, url: str, cfg: Config) -> list[str]:
    argv = [sys.executable, "-m", "benchmarks.budget_contenders", name, str(ids_file)]
    argv += ["--base-url", url, "--key", KEY, "--jobs", str(row.jobs)]
    return [*argv, "--batch-size", str(cfg.batch_size), "--concurrency", str(cfg.concurrency)]


def _other_client(row: Row, url: str) -> subprocess.Popen[str] | None:
    if not row.other_client:
        return None
    argv = [sys.executable, "-m", "benchmarks.budget_contenders", "other-client"]
    argv += ["--base-url", url, "--key", KEY, "--rate", str(row.limit * row.other_client)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, text=True, env=child_env(), cwd=harness.CHILD_CWD
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready"
    return proc


def _stop_other(proc: subprocess.Popen[str] | None) -> dict[str, Any]:
    if proc is None:
        return {}
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            data: dict[str, Any] = json.loads(line)
            return data
    return {}


def measure_row(row: Row, name: str, ids_file: Path, cfg: Config, requests: int) -> dict[str, Any]:
    """One contender on one row, against a fresh fake server; returns its figures."""
    windows = (row.window,) if row.window else ()
    server = FakeServer(
        rate=row.rate,
        windows=windows,
        sample_every=cfg.sample_every,
        extra_args=tuple(row.server_args()),
    )
    with server as fake:
        other = _other_client(row, fake.url)
        try:
            argv = _contender_argv(name, row, ids_file, fake.url, cfg)
            proc = run_timed(argv, env=child_env(), timeout=cfg.time_limit)
        finally:
            others = _stop_other(other)
        stats = fake.stats()
        offset = proc.started_at - fake.origin
        samples = [vars(s) for s in fake.samples]
    own = proc.json_stdout() or {}
    fig = _score(row, own, stats, others, requests)
    work = float(own.get("elapsed_s") or proc.wall_s)
    fig.update(returncode=proc.returncode, wall_s=round(proc.wall_s, 2), samples=samples)
    fig["first_contact_429s"] = _first_contact(samples)
    if row.window is not None:
        # the timed section began this long after the window's origin
        start = offset + proc.wall_s - work
        ideal = ideal_window_seconds(fig["admitted"], row.window[0], row.window[1], start)
        fig["of_ideal"] = round(ideal / work, 4) if work else 0.0
    if proc.returncode != 0:
        fig["stderr_tail"] = proc.stderr[-1500:]
    return fig


def _score(
    row: Row, own: dict[str, Any], stats: dict[str, Any], others: dict[str, Any], requests: int
) -> dict[str, Any]:
    """The contender's own requests (the other client's taken out), throughput and shares."""
    other_statuses = others.get("statuses", {})
    by_status = {
        status: count - int(other_statuses.get(status, 0))
        for status, count in stats["by_status"].items()
    }
    sent = int(stats["requests"]) - int(others.get("requests", 0))
    refused = by_status.get("429", 0)
    admitted = sent - refused
    work = float(own.get("elapsed_s") or 0.0)
    left = row.limit * (1.0 - row.other_client)
    fig: dict[str, Any] = {
        "work_s": round(work, 3),
        "requests": sent,
        "admitted": admitted,
        "by_status": by_status,
        "throttled_share": round(refused / sent, 4) if sent else 0.0,
        "of_limit": round(admitted / work / left, 4) if work else 0.0,
        "job_requests": requests,
        "failed_ids": own.get("failed_ids"),
    }
    jobs = own.get("jobs") or []
    if len(jobs) > 1:
        fig["shares"] = _shares(jobs)
    return fig


def _first_contact(samples: list[dict[str, Any]]) -> int | None:
    """429s (server-wide) within a second of the first one: the requests in flight when an
    unpaced budget met the limit."""
    first = next((s for s in samples if s["throttled"] > 0), None)
    if first is None:
        return None
    within = [s["throttled"] for s in samples if s["t"] <= first["t"] + 1.0]
    return int(within[-1])


def _shares(jobs: list[dict[str, Any]]) -> list[float]:
    """Each job's ids deleted while every job ran, over a fair share of them."""
    end = min(float(j["elapsed_s"]) for j in jobs) / 0.25
    counts = [
        sum(n for bucket, n in j["deleted_at"].items() if int(bucket) < int(end)) for j in jobs
    ]
    fair = sum(counts) / len(counts)
    return [round(c / fair, 3) if fair else 0.0 for c in counts]


def met(row: Row, fig: dict[str, Any]) -> bool:
    """Whether one run meets its row's floors."""
    value = fig.get("of_ideal" if row.window else "of_limit", 0.0)
    ok = value >= row.floor and fig.get("returncode") == 0
    if row.cap is not None:
        ok = ok and fig["throttled_share"] <= row.cap
    if fig.get("shares"):
        ok = ok and all(0.8 <= s <= 1.2 for s in fig["shares"])
    return bool(ok)


def run_budget(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """Every row: bulkdel's library (and the async SDK where one job applies)."""
    if not have["lib"]:
        return {"skipped": "bulkdel is not ready: no library"}
    quick = cfg.ids < 10_000  # --quick: a smoke test of two rows, small
    rate, seconds = (20.0, 2.0) if quick else (100.0, 15.0)
    results: dict[str, Any] = {"rate": rate, "seconds": seconds, "rows": []}
    chosen = rows(rate, cfg.window)
    if quick:
        chosen = [r for r in chosen if r.key in ("stated", "jobs2")]
    for row in chosen:
        requests = _requests_for(row, seconds, cfg, quick)
        ids_file = write_ids(work / f"budget_{row.key}.txt", requests * cfg.batch_size)
        entry: dict[str, Any] = {**dataclasses.asdict(row), "contenders": {}}
        for name in ("bulkdel-jobs", "sdk-async-jobs") if row.sdk else ("bulkdel-jobs",):
            fig = measure_row(row, name, ids_file, cfg, requests)
            fig["met"] = met(row, fig) if name == "bulkdel-jobs" else None
            entry["contenders"][name] = fig
            print(f"[budget] {row.key} {name}: {_brief(row, fig)}", file=sys.stderr, flush=True)
        results["rows"].append(entry)
    return results


def _brief(row: Row, fig: dict[str, Any]) -> str:
    value = fig.get("of_ideal" if row.window else "of_limit")
    extra = f", shares {fig['shares']}" if fig.get("shares") else ""
    return f"{value} of {'ideal' if row.window else 'limit'}, 429 {fig['throttled_share']}{extra}"


def markdown(block: dict[str, Any]) -> list[str]:
    """The group's section of RESULTS.md."""
    if "skipped" in block:
        return ["## Shared budget", "", f"Skipped: {block['skipped']}", ""]
    lines = [
        "## Shared budget: the floors",
        "",
        f"Fake server limit R = {block['rate']:g} requests/s; jobs sized for about "
        f"{block['seconds']:g} s at R (the long window: two windows and one batch; 8 jobs: "
        "60 s). " + (__doc__ or "").split("Figures: ", 1)[1].replace("\n", " "),
        "",
        "*first 429s*: the server's 429s within a second of the first one (an unpaced budget "
        "meets the limit with its jobs' requests in flight, all refused). One run per row and "
        "contender; *met* is bulkdel's (the SDK is shown beside it).",
        "",
        "| row | contender | throughput | floor | 429 share | cap | first 429s | shares | met |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for entry in block["rows"]:
        unit = "of ideal" if entry["window"] else "of R"
        for name, fig in entry["contenders"].items():
            value = fig.get("of_ideal" if entry["window"] else "of_limit")
            cap = "-" if entry["cap"] is None else f"{entry['cap']:.2f}"
            met_text = {True: "yes", False: "**no**", None: "-"}[fig.get("met")]
            shares = ", ".join(f"{s:.2f}" for s in fig.get("shares", [])) or "-"
            lines.append(
                f"| {entry['label']} | {name} | {value:.3f} {unit} | {entry['floor']:.2f} | "
                f"{fig['throttled_share']:.4f} | {cap} | {fig.get('first_contact_429s', '-')} | "
                f"{shares} | {met_text} |"
            )
    lines.append("")
    if block.get("chart"):
        lines += [f"![pace over time, per row]({block['chart']})", ""]
    return lines


def draw(block: dict[str, Any], path: Path) -> Path | None:
    """One panel per row (bulkdel's run): requests/s sent, 200s/s and 429s/s over time."""
    if "rows" not in block:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    entries = block["rows"]
    cols = 4
    rows_ = -(-len(entries) // cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(5 * cols, 3.2 * rows_), squeeze=False)
    for ax, entry in zip((a for line in axes for a in line), entries, strict=False):
        samples = entry["contenders"]["bulkdel-jobs"].get("samples") or []
        times, sent, ok, refused = [], [], [], []
        for before, after in itertools.pairwise(samples):
            dt = after["t"] - before["t"]
            if dt <= 0:
                continue
            times.append(after["t"])
            sent.append((after["requests"] - before["requests"]) / dt)
            ok.append((after["ids_deleted"] - before["ids_deleted"]) / 100 / dt)
            refused.append((after["throttled"] - before["throttled"]) / dt)
        ax.plot(times, sent, label="sent/s", linewidth=1)
        ax.plot(times, ok, label="200s/s", linewidth=1)
        ax.plot(times, refused, label="429s/s", linewidth=1)
        ax.axhline(entry["floor"] * _limit(entry, block), color="grey", linestyle=":",
                   linewidth=1, label="floor")  # fmt: skip
        ax.set_title(entry["label"], fontsize="small")
        ax.set_xlabel("s since the server started", fontsize="x-small")
        ax.legend(fontsize="xx-small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _limit(entry: dict[str, Any], block: dict[str, Any]) -> float:
    if entry["window"]:
        return float(entry["window"][0] / entry["window"][1])
    return float(block["rate"]) * (1.0 - entry["other_client"])
