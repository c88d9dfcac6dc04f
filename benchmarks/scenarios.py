"""The three scenarios: unthrottled throughput, throttled efficiency, scale and memory.

Each run gets a fresh fake-server process and a fresh contender process. Throughput is
measured on the server's ground truth (``ids_deleted``) over the contender's own timed section
("work": from before reading the id file to the last answer, so interpreter start-up and
imports, which differ a lot between contenders, are left out); whole-process wall time is
recorded too.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import harness
from .harness import KEY, FakeServer, ProcResult, child_env, run_timed


@dataclass(frozen=True)
class Config:
    """Sizes and limits for one benchmark session."""

    ids: int = 200_000
    #: the throughput scenario's second size (0: none), for the figures at a million ids
    large_ids: int = 1_000_000
    runs: int = 3
    batch_size: int = 100
    concurrency: int = 8
    #: the SDK's sync client runs on this many ids (its ids/s is what is compared)
    sdk_sync_ids: int = 200_000
    rate: float = 50.0
    #: seconds of work the per-second throttled job is sized for, at exactly ``rate``
    rate_seconds: float = 20.0
    window: tuple[int, float] = (1000, 15.0)
    #: the windowed job is ``window_count`` full windows plus one batch
    window_count: int = 2
    scale_sizes: tuple[int, ...] = (1_000_000, 10_000_000, 30_000_000)
    #: scale points measured as a dry run only (a live run of 100M would take ~15 minutes)
    scale_dry_only: tuple[int, ...] = (100_000_000,)
    scale_runs: int = 1
    #: seconds any single contender run may take before it is interrupted
    time_limit: float = 600.0
    sample_every: float = 0.25
    #: contender runs at once; 1 for real measurements (the machine has 2 cores)
    jobs: int = 1


# --------------------------------------------------------------------------- contenders


def bulkdel_available() -> dict[str, bool]:
    """Which of bulkdel's interfaces exist yet (its pipeline is being written alongside)."""
    help_run = subprocess.run(
        [sys.executable, "-m", "bulkdel", "delete", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=harness.CHILD_CWD,
    )
    cli = help_run.returncode == 0
    lib_run = subprocess.run(
        [sys.executable, "-c", "import bulkdel, sys; sys.exit(0 if bulkdel.delete_files else 1)"],
        capture_output=True,
        check=False,
        cwd=harness.CHILD_CWD,
    )
    return {
        "cli": cli,
        "journal": cli and "--journal" in help_run.stdout,
        "lib": lib_run.returncode == 0,
    }


def _module_argv(name: str, ids_file: Path, url: str, cfg: Config, **opts: Any) -> list[str]:
    argv = [sys.executable, "-m", "benchmarks.contenders", name, str(ids_file)]
    argv += ["--base-url", url, "--key", KEY, "--batch-size", str(cfg.batch_size)]
    argv += ["--concurrency", str(cfg.concurrency)]
    for key, value in opts.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def _cli_argv(ids_file: Path, url: str, cfg: Config, tmp: Path, **opts: Any) -> list[str]:
    argv = [sys.executable, "-m", "bulkdel", "delete", str(ids_file), "--base-url", url]
    argv += ["--batch-size", str(cfg.batch_size), "--concurrency", str(cfg.concurrency)]
    argv += ["--report-dir", str(tmp / "report"), "--json", "--quiet", "--yes"]
    if opts.get("rate") is not None:
        argv += ["--rate", str(opts["rate"])]
    if opts.get("journal"):
        argv += ["--journal", str(tmp / "journal")]
    if opts.get("dry_run"):
        argv += ["--dry-run"]
    return argv


#: builds a contender's argv: (ids_file, server url, config, scratch dir) -> argv
Launcher = Callable[[Path, str, Config, Path], list[str]]


def launcher(name: str, **opts: Any) -> Launcher:
    """The argv builder for a contender name (bulkdel-cli*, or one in contenders.py)."""
    if name.startswith("bulkdel-cli"):
        return lambda f, url, cfg, tmp: _cli_argv(f, url, cfg, tmp, **opts)
    return lambda f, url, cfg, tmp: _module_argv(name, f, url, cfg, **opts)


def measure(
    launch: Launcher,
    ids_file: Path,
    cfg: Config,
    *,
    rate: float | None = None,
    windows: tuple[tuple[int, float], ...] = (),
    sample: bool = False,
    server: bool = True,
) -> dict[str, Any]:
    """One run of one contender against a fresh fake server; returns its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        tmp = Path(scratch)
        if not server:  # --dry-run: nothing is sent; a closed port proves it
            proc = run_timed(
                launch(ids_file, "http://127.0.0.1:9", cfg, tmp),
                env=child_env(),
                timeout=cfg.time_limit,
            )
            return _figures(proc, None, None, [])
        with FakeServer(
            rate=rate, windows=windows, sample_every=cfg.sample_every if sample else 0.0
        ) as fake:
            server_cpu = fake.cpu_s()
            proc = run_timed(
                launch(ids_file, fake.url, cfg, tmp), env=child_env(), timeout=cfg.time_limit
            )
            server_cpu = fake.cpu_s() - server_cpu
            stats = fake.stats()
            offset = proc.started_at - fake.origin
            samples = [vars(s) for s in fake.samples]
        figures = _figures(proc, stats, offset, samples)
        figures["server_cpu_s"] = round(server_cpu, 3)
        return figures


def _figures(
    proc: ProcResult, stats: dict[str, Any] | None, offset: float | None, samples: list[Any]
) -> dict[str, Any]:
    own = proc.json_stdout() or {}
    # work time: the contender's own timer (bulkdel's summary elapsed_s); else wall time
    work = float(own.get("elapsed_s") or proc.wall_s)
    figures: dict[str, Any] = {
        "returncode": proc.returncode,
        "timed_out": proc.timed_out,
        "wall_s": round(proc.wall_s, 3),
        "work_s": round(work, 3),
        "peak_rss_mib": round(proc.peak_rss_mib, 1),
        "cpu_s": round(proc.cpu_s, 3),
    }
    if own.get("counts"):
        figures["counts"] = own["counts"]
    if own.get("errors"):
        figures["errors"] = own["errors"]
    if stats is not None:
        deleted = int(stats["ids_deleted"])
        by_status = stats["by_status"]
        requests = int(stats["requests"])
        figures.update(
            ids_deleted=deleted,
            requests=requests,
            by_status=by_status,
            max_in_flight=stats["max_in_flight"],
            ids_per_s=round(deleted / work, 1) if work > 0 else 0.0,
            ids_per_s_wall=round(deleted / proc.wall_s, 1),
            cpu_us_per_id=round(proc.cpu_s / deleted * 1e6, 3) if deleted else None,
            throttled_share=round(by_status.get("429", 0) / requests, 4) if requests else 0.0,
            # when the timed section began, in seconds after the server's window origin
            work_offset_s=round((offset or 0.0) + proc.wall_s - work, 3),
        )
    else:
        unique = (own.get("counts") or {}).get("unique") or (own.get("counts") or {}).get("read")
        if unique:
            figures["ids_per_s"] = round(unique / work, 1)
    if samples:
        figures["samples"] = samples
    if proc.returncode != 0:
        figures["stderr_tail"] = proc.stderr[-1500:]
    return figures


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of every numeric figure, plus the runs themselves."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    median = {k: round(statistics.median(r[k] for r in runs if k in r), 4) for k in keys}
    return {"median": median, "runs": runs}


# --------------------------------------------------------------------------- ideal times


def ideal_rate_seconds(requests: int, rate: float) -> float:
    """Time for ``requests`` at exactly ``rate`` per second: the limit's sustained rate.

    The fake server's bucket starts full, so a client that bursts first can beat this by
    ``rate / requests`` (5% for a 20 s job); the issue's figure is "of R", so no burst credit.
    """
    return requests / rate


def ideal_window_seconds(requests: int, limit: int, interval: float, offset: float) -> float:
    """Least time for ``requests`` through a fixed window, starting ``offset`` s after its origin.

    An infinitely fast client spends each window's ``limit`` at once, then waits for the reset.
    """
    into = offset % interval
    windows_needed = math.ceil(requests / limit)
    return max(0.0, (windows_needed - 1) * interval - into)
