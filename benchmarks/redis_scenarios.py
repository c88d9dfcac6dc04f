"""Several processes on one account through the Redis budget (``--only redis``).

1, 2 and 4 independent ``bulkdel delete --redis URL`` processes, each with its own share of
the ids, run at once against one fake server:

* **limited** (``--rate`` ``cfg.rate``): together against the limit (successful requests per
  second over the span from the first process's work to the last answer), and the 429 share;
* **unthrottled**: ids/s together against the number of processes, beside one process
  without Redis (the single-process path) as the baseline;

and for every run the Redis round trips per request (script calls counted by the server's
``INFO commandstats``, over the requests the fake server answered). The Redis server is a
private ``redis-server`` on a free port; without one the group is skipped.

``EXTRA`` holds further runners of this group (the distributed job's workers): each takes
``(cfg, work, redis_url)`` and returns blocks for ``results["redis"]``; ``--quick`` skips them.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import harness, jobs_scenarios
from .harness import FakeServer, ProcResult, child_env, make_id, run_timed
from .scenarios import Config

PROCESSES = (1, 2, 4)
#: further runners of this group: (cfg, work dir, redis URL) -> {name: block}
EXTRA: list[Callable[[Config, Path, str], dict[str, Any]]] = [jobs_scenarios.run_workers]


def run_redis(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """The whole group; skipped without ``redis-server`` or without ``delete --redis``."""
    if shutil.which("redis-server") is None:
        return {"skipped": "redis-server is not installed (apt-get install redis-server)"}
    if not _has_redis_option():
        return {"skipped": "bulkdel is not ready: no delete --redis"}
    results: dict[str, Any] = {"limit_req_per_s": cfg.rate, "limited": {}, "unthrottled": {}}
    with _redis_server(work) as url:
        requests = math.ceil(cfg.rate * cfg.rate_seconds)
        for n in PROCESSES:
            ids = _id_files(work / f"limited{n}", requests * cfg.batch_size, n)
            results["limited"][str(n)] = _run(cfg, ids, url, rate=cfg.rate)
        unthrottled = results["unthrottled"]
        unthrottled["no redis"] = _run(cfg, _id_files(work / "alone", cfg.ids, 1), None, rate=None)
        for n in PROCESSES:
            ids = _id_files(work / f"free{n}", cfg.ids, n)
            unthrottled[str(n)] = _run(cfg, ids, url, rate=None)
        # --quick (several runs at once: no measurement) leaves them out, for the smoke
        # test's time.
        for extra in EXTRA if cfg.jobs == 1 else ():
            results.update(extra(cfg, work, url))
    return results


def _has_redis_option() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "bulkdel", "delete", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=harness.CHILD_CWD,
    )
    return "--redis" in done.stdout


@contextmanager
def _redis_server(work: Path) -> Iterator[str]:
    """A private, non-persistent redis-server on a free port; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    directory = work / "redis"
    directory.mkdir(exist_ok=True)
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    argv += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(500):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            time.sleep(0.02)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _script_calls(url: str) -> int:
    """Script calls the server has run so far (EVALSHA, EVAL)."""
    import redis

    with redis.Redis.from_url(url) as client:
        stats = client.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


def _id_files(stem: Path, total: int, parts: int) -> list[Path]:
    """``total`` distinct ids split into ``parts`` files."""
    paths = []
    for part in range(parts):
        path = stem.with_name(f"{stem.name}_{part}.txt")
        with path.open("w", encoding="ascii") as handle:
            handle.write("".join(make_id(i) + "\n" for i in range(part, total, parts)))
        paths.append(path)
    return paths


def _argv(ids: Path, url: str, redis: str | None, cfg: Config, tmp: Path) -> list[str]:
    argv = [sys.executable, "-m", "bulkdel", "delete", str(ids), "--base-url", url]
    argv += ["--batch-size", str(cfg.batch_size), "--concurrency", str(cfg.concurrency)]
    argv += ["--report-dir", str(tmp / ids.stem), "--json", "--quiet", "--yes"]
    if redis is not None:
        argv += ["--redis", redis]
    return argv


def _run(cfg: Config, ids: list[Path], redis: str | None, *, rate: float | None) -> dict[str, Any]:
    """All ``ids`` files at once, one process each, against one fresh fake server."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-redis-") as scratch,
        FakeServer(rate=rate) as fake,
    ):
        before = _script_calls(redis) if redis else 0
        with ThreadPoolExecutor(max_workers=len(ids)) as pool:
            procs = list(
                pool.map(
                    lambda path: run_timed(
                        _argv(path, fake.url, redis, cfg, Path(scratch)),
                        env=child_env(),
                        timeout=cfg.time_limit,
                    ),
                    ids,
                )
            )
        stats = fake.stats()
        calls = (_script_calls(redis) - before) if redis else 0
    return _figures(procs, stats, calls, rate)


def _figures(
    procs: list[ProcResult], stats: dict[str, Any], calls: int, rate: float | None
) -> dict[str, Any]:
    starts, ends = [], []
    for proc in procs:
        own = proc.json_stdout() or {}
        work = float(own.get("elapsed_s") or proc.wall_s)
        ends.append(proc.started_at + proc.wall_s)
        starts.append(ends[-1] - work)
    span = max(ends) - min(starts)
    requests = int(stats["requests"])
    refused = int(stats["by_status"].get("429", 0))
    figures: dict[str, Any] = {
        "processes": len(procs),
        "returncodes": [p.returncode for p in procs],
        "span_s": round(span, 3),
        "ids_deleted": int(stats["ids_deleted"]),
        "ids_per_s": round(int(stats["ids_deleted"]) / span, 1),
        "requests": requests,
        "throttled_share": round(refused / requests, 4) if requests else 0.0,
        "round_trips_per_request": round(calls / requests, 3) if requests else 0.0,
    }
    if rate:
        figures["of_limit"] = round((requests - refused) / span / rate, 4)
    failed = [p.stderr[-800:] for p in procs if p.returncode != 0]
    if failed:
        figures["stderr_tail"] = failed[0]
    return figures


def markdown(block: dict[str, Any]) -> list[str]:
    """The group's section of RESULTS.md."""
    lines = ["## Several processes on one account (Redis budget)", ""]
    if "skipped" in block:
        return [*lines, f"Skipped: {block['skipped']}.", ""]
    rate = block["limit_req_per_s"]
    lines += [
        f"Independent `bulkdel delete --redis` processes, each with its share of the ids, at "
        f'once against one fake server. Limited: `--rate {rate:g}`; "of limit" is the '
        "successful requests per second together, from the first process's work to the last "
        "answer, over the limit (the server's bucket starts full, so a short run can pass 1).",
        "",
        "| server | processes | of limit | 429 share | ids/s | Redis round trips / request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in ("limited", "unthrottled"):
        for name, fig in block.get(kind, {}).items():
            lines.append(
                f"| {kind} | {name} | {fig.get('of_limit', '-')} | {fig['throttled_share']} | "
                f"{fig['ids_per_s']:,.0f} | {fig['round_trips_per_request']} |"
            )
    for extra in block.values():
        if isinstance(extra, dict) and "markdown" in extra:
            lines += ["", *extra["markdown"]]
    if block.get("chart"):
        lines += ["", f"![processes on one account]({block['chart']})"]
    return [*lines, ""]


def draw(block: dict[str, Any], path: Path) -> Path | None:
    """ids/s (unthrottled) and share of the limit (limited) against processes; None if not
    drawn (no matplotlib, or the group was skipped)."""
    if "skipped" in block:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    free = {k: v for k, v in block["unthrottled"].items() if k.isdigit()}
    left.plot([int(k) for k in free], [v["ids_per_s"] for v in free.values()], marker="o")
    if "no redis" in block["unthrottled"]:
        baseline = block["unthrottled"]["no redis"]["ids_per_s"]
        left.axhline(baseline, color="grey", linestyle="--", label="1 process, no Redis")
        left.legend(fontsize="small")
    left.set(title="unthrottled", xlabel="processes", ylabel="ids deleted / s together")
    limited = block["limited"]
    right.plot([int(k) for k in limited], [v["of_limit"] for v in limited.values()], marker="o")
    right.axhline(1.0, color="grey", linestyle="--")
    right.set(title=f"--rate {block['limit_req_per_s']:g}", xlabel="processes", ylabel="of limit")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
