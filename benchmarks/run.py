"""The benchmark runner: ``python -m benchmarks [--quick] [--only NAME ...] [--ids N] [--runs N]``.

Scenarios (``--only``): ``throughput`` (unthrottled ids/s, bulkdel vs the official SDK vs a
bare aiohttp loop), ``throughput_large`` (the same at a million ids), ``throttled``
(efficiency against a rate-limited fake server, per second and over a long fixed window),
``scale`` (1M/10M/30M ids, dry run and live, and a 100M dry run: time, peak RSS and bytes per
id), ``budget`` and ``redis``. Results go to ``--out`` as ``results.json``, ``RESULTS.md`` and
the charts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from . import budget_scenarios, chart, harness, redis_scenarios, report
from .harness import extend_ids, write_ids
from .scenarios import (
    Config,
    Launcher,
    bulkdel_available,
    ideal_rate_seconds,
    ideal_window_seconds,
    launcher,
    measure,
    summarize,
)

SCENARIOS = ("throughput", "throughput_large", "throttled", "scale", "budget", "redis")
QUICK = Config(
    ids=2_000,
    large_ids=5_000,
    runs=1,
    sdk_sync_ids=1_000,
    rate=10.0,
    rate_seconds=2.0,
    window=(10, 0.5),
    window_count=2,
    scale_sizes=(3_000,),
    scale_dry_only=(6_000,),
    scale_runs=1,
    time_limit=60.0,
    sample_every=0.1,
    jobs=4,
)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _skipped(reason: str) -> dict[str, Any]:
    return {"skipped": reason}


Job = tuple[str, Callable[[], dict[str, Any]]]


def _execute(cfg: Config, jobs: list[Job]) -> dict[str, list[dict[str, Any]]]:
    """Run the (key, thunk) jobs, ``cfg.jobs`` at a time; returns each key's figures in order.

    Timed runs go one at a time (``jobs=1``) so that contenders never share the 2 cores;
    ``--quick`` runs several at once, because its figures are not measurements.
    """
    out: dict[str, list[dict[str, Any]]] = {key: [] for key, _ in jobs}

    def one(job: Job) -> tuple[str, dict[str, Any]]:
        key, thunk = job
        figures = thunk()
        _log(f"{key}: {_brief(figures)}")
        return key, figures

    with ThreadPoolExecutor(max_workers=max(1, cfg.jobs)) as pool:
        for key, figures in pool.map(one, jobs):
            out[key].append(figures)
    return out


def _brief(fig: dict[str, Any]) -> str:
    parts = [f"{fig.get('ids_per_s')} ids/s", f"{fig['wall_s']} s", f"{fig['peak_rss_mib']} MiB"]
    if "efficiency" in fig:
        parts.append(f"efficiency {fig['efficiency']}, 429 share {fig.get('throttled_share')}")
    if fig["returncode"] != 0:
        parts.append(f"exit {fig['returncode']}")
    return ", ".join(parts)


def run_throughput(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """Unthrottled ids/s of every contender, medians of ``cfg.runs`` runs, at ``cfg.ids``."""
    return _throughput_at(cfg, work, have, cfg.ids, sync=True)


def run_throughput_large(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """The same at ``cfg.large_ids``, without the sync SDK (its size is capped anyway)."""
    return _throughput_at(cfg, work, have, cfg.large_ids, sync=False)


def _throughput_at(
    cfg: Config, work: Path, have: dict[str, bool], ids: int, *, sync: bool
) -> dict[str, Any]:
    ids_file = write_ids(work / f"throughput_{ids}.txt", ids)
    sync_ids = min(ids, cfg.sdk_sync_ids)
    contenders: list[tuple[str, Launcher, Path, str | None]] = [
        ("bare", launcher("bare"), ids_file, None),
        ("sdk-async", launcher("sdk-async"), ids_file, None),
    ]
    if sync:
        sync_file = write_ids(work / f"throughput_sync_{sync_ids}.txt", sync_ids)
        contenders.append(("sdk-sync", launcher("sdk-sync"), sync_file, None))
    contenders += [
        ("bulkdel-cli", launcher("bulkdel-cli"), ids_file, None if have["cli"] else "no CLI"),
        (
            "bulkdel-cli-journal",
            launcher("bulkdel-cli", journal=True),
            ids_file,
            None if have["journal"] else "no --journal",
        ),
        ("bulkdel-lib", launcher("bulkdel-lib"), ids_file, None if have["lib"] else "no library"),
    ]
    results: dict[str, Any] = {}
    jobs: list[Job] = []
    for name, launch, path, missing in contenders:
        if missing:
            results[name] = _skipped(f"bulkdel is not ready: {missing}")
            continue
        results[name] = None  # keeps the table's order
        jobs += [(f"throughput {ids} {name}", partial(measure, launch, path, cfg))] * cfg.runs
    done = _execute(cfg, jobs)
    for name in results:
        if results[name] is None:
            results[name] = summarize(done[f"throughput {ids} {name}"])
            results[name]["ids"] = sync_ids if name == "sdk-sync" else ids
    return results


def run_throttled(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """Efficiency against a throttling server: a per-second rate, then a long fixed window."""
    limit, interval = cfg.window
    window_rate = round(limit / interval, 3)
    setups = {
        "rate": {
            "server": {"rate": cfg.rate, "windows": ()},
            "label": f"--rate {cfg.rate:g}",
            "limit_req_per_s": cfg.rate,
            "requests": math.ceil(cfg.rate * cfg.rate_seconds),
        },
        "window": {
            "server": {"rate": None, "windows": (cfg.window,)},
            "label": f"--window {limit}/{interval:g}",
            "limit_req_per_s": window_rate,
            # whole windows plus one batch: the job must wait out the last reset
            "requests": limit * cfg.window_count + 1,
        },
    }
    results: dict[str, Any] = {}
    jobs: list[Job] = []
    for scenario, setup in setups.items():
        ids_file = write_ids(work / f"throttled_{scenario}.txt", setup["requests"] * cfg.batch_size)
        contenders = [
            ("bulkdel-cli --rate", launcher("bulkdel-cli", rate=setup["limit_req_per_s"])),
            ("bulkdel-cli adaptive", launcher("bulkdel-cli")),
            ("sdk-async", launcher("sdk-async")),
        ]
        block: dict[str, Any] = {
            "server": {k: v for k, v in setup["server"].items() if v},
            "server_label": setup["label"],
            "limit_req_per_s": setup["limit_req_per_s"],
            "limit_ids_per_s": round(setup["limit_req_per_s"] * cfg.batch_size, 1),
            "ids": setup["requests"] * cfg.batch_size,
            "contenders": {},
        }
        results[scenario] = block
        for name, launch in contenders:
            if name.startswith("bulkdel") and not have["cli"]:
                block["contenders"][name] = _skipped("bulkdel is not ready: no CLI")
                continue
            block["contenders"][name] = None
            for i in range(cfg.runs):
                thunk = partial(_throttled_run, launch, ids_file, cfg, setup, block, sample=i == 0)
                jobs.append((f"throttled {scenario} {name}", thunk))
    done = _execute(cfg, jobs)
    for scenario, block in results.items():
        for name, value in block["contenders"].items():
            if value is None:
                block["contenders"][name] = summarize(done[f"throttled {scenario} {name}"])
    return results


def _throttled_run(
    launch: Launcher,
    ids_file: Path,
    cfg: Config,
    setup: dict[str, Any],
    block: dict[str, Any],
    *,
    sample: bool,
) -> dict[str, Any]:
    fig = measure(launch, ids_file, cfg, sample=sample, **setup["server"])
    score(fig, block, cfg.batch_size)
    return fig


def score(fig: dict[str, Any], block: dict[str, Any], batch_size: int) -> None:
    """Add ``done``, ``ideal_s``, ``efficiency`` and ``of_limit`` to one throttled run.

    The ideal is for the ids the run actually deleted, so a client that gives up on batches
    (the SDK, after its retries) gains nothing by giving up early; ``done`` shows the share.
    """
    deleted = fig.get("ids_deleted", 0)
    requests = math.ceil(deleted / batch_size)
    server = block["server"]
    if server.get("rate"):
        ideal = ideal_rate_seconds(requests, block["limit_req_per_s"])
    else:
        limit, interval = server["windows"][0]
        ideal = ideal_window_seconds(requests, limit, interval, fig.get("work_offset_s", 0.0))
    fig["done"] = round(deleted / block["ids"], 4)
    fig["ideal_s"] = round(ideal, 3)
    fig["efficiency"] = round(ideal / fig["work_s"], 4) if fig["work_s"] else 0.0
    fig["of_limit"] = round(fig.get("ids_per_s", 0.0) / block["limit_ids_per_s"], 4)


def run_scale(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """bulkdel's CLI on ``scale_sizes`` ids (dry run and live) and ``scale_dry_only`` ids
    (dry run): time, peak RSS and bytes per id. One id file grows from size to size."""
    if not have["cli"]:
        return _skipped("bulkdel is not ready: no CLI")
    dry = ("dry-run", launcher("bulkdel-cli", dry_run=True), False)
    live = ("live", launcher("bulkdel-cli"), True)
    points = [(size, (dry, live)) for size in cfg.scale_sizes]
    points += [(size, (dry,)) for size in cfg.scale_dry_only]
    results: dict[str, Any] = {}
    ids_file = work / "scale.txt"
    written = 0
    for size, modes in sorted(points, key=lambda point: point[0]):
        written = extend_ids(ids_file, written, size)
        jobs: list[Job] = [
            (f"scale {size} {mode}", partial(measure, launch, ids_file, cfg, server=server))
            for mode, launch, server in modes
            for _ in range(cfg.scale_runs)
        ]
        done = _execute(cfg, jobs)
        for mode, _, _ in modes:
            runs = done[f"scale {size} {mode}"]
            summary = summarize(runs)
            rss = summary["median"].get("peak_rss_mib")
            if rss:
                summary["median"]["rss_bytes_per_id"] = round(rss * 1024 * 1024 / size, 2)
            results[f"{size}/{mode}"] = {"ids": size, "mode": mode, **summary}
    ids_file.unlink(missing_ok=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected scenarios and write the results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--ids", type=int, help="ids for the throughput scenario")
    parser.add_argument("--large-ids", type=int, help="ids for the throughput_large scenario")
    parser.add_argument("--runs", type=int, help="runs per contender (medians are reported)")
    parser.add_argument("--scale-runs", type=int, help="runs per scale point")
    parser.add_argument("--scale-sizes", type=int, nargs="+", help="ids per scale point")
    parser.add_argument(
        "--scale-dry-only", type=int, nargs="*", help="ids per scale point run dry only"
    )
    parser.add_argument("--time-limit", type=float, help="seconds per contender run")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="results dir")
    parser.add_argument(
        "--from-git",
        metavar="REF",
        help="measure bulkdel as committed at REF (e.g. HEAD), not the working tree",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only rewrite RESULTS.md and the chart from --out's results.json",
    )
    args = parser.parse_args(argv)
    if args.render_only:
        _render(json.loads((args.out / "results.json").read_text(encoding="utf-8")), args.out)
        return 0
    cfg = QUICK if args.quick else Config()
    overrides = {
        "ids": args.ids,
        "large_ids": args.large_ids,
        "runs": args.runs,
        "scale_runs": args.scale_runs,
        "time_limit": args.time_limit,
        "scale_sizes": tuple(args.scale_sizes) if args.scale_sizes else None,
        "scale_dry_only": None if args.scale_dry_only is None else tuple(args.scale_dry_only),
    }
    cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    runners = {
        "throughput": run_throughput,
        "throughput_large": run_throughput_large,
        "throttled": run_throttled,
        "scale": run_scale,
        "budget": budget_scenarios.run_budget,
        "redis": redis_scenarios.run_redis,
    }
    with tempfile.TemporaryDirectory(prefix="bulkdel-bench-") as scratch:
        if args.from_git:
            harness.CHILD_CWD = harness.snapshot(args.from_git, Path(scratch) / "code")
        harness.compile_bulkdel(harness.CHILD_CWD)
        have = bulkdel_available()
        _log(f"bulkdel interfaces available: {have}")
        results: dict[str, Any] = {
            "config": dataclasses.asdict(cfg),
            "quick": args.quick,
            "bulkdel_available": have,
            "bulkdel_source": f"git {args.from_git}" if args.from_git else "working tree",
            "machine": report.machine_info(args.from_git),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        for name in SCENARIOS:
            if name in args.only:
                _log(f"scenario {name}")
                results[name] = runners[name](cfg, Path(scratch), have)
    results["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    _render(results, args.out)
    return 0


def _render(results: dict[str, Any], out: Path) -> None:
    """Write results.json, the chart (if matplotlib is there) and RESULTS.md into ``out``."""
    batch_size = results["config"]["batch_size"]
    for block in (results.get("throttled") or {}).values():
        for name, result in block["contenders"].items():
            if "runs" in result:  # derived figures are recomputed from the raw ones
                for fig in result["runs"]:
                    score(fig, block, batch_size)
                block["contenders"][name] = summarize(result["runs"])
    results["targets"] = report.targets(results)
    chart_path = chart.draw(results.get("throttled"), out / "throttled.png")
    results["chart"] = chart_path.name if chart_path else None
    if "budget" in results:
        budget_chart = budget_scenarios.draw(results["budget"], out / "budget.png")
        results["budget"]["chart"] = budget_chart.name if budget_chart else None
    if "redis" in results:
        redis_chart = redis_scenarios.draw(results["redis"], out / "redis.png")
        results["redis"]["chart"] = redis_chart.name if redis_chart else None
    json_path = out / "results.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "RESULTS.md").write_text(report.markdown(results), encoding="utf-8")
    _log(f"wrote {json_path}, {out / 'RESULTS.md'}" + (f", {chart_path}" if chart_path else ""))
