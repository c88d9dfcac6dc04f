"""The benchmark runner: ``python -m benchmarks [--quick] [--only NAME ...] [--ids N] [--runs N]``.

Scenarios (``--only``): ``throughput`` (unthrottled ids/s, bulkdel vs the official SDK vs a
bare aiohttp loop), ``throttled`` (efficiency against a rate-limited fake server, per second
and over a long fixed window) and ``scale`` (1M/3M/10M ids, dry run and live: time and peak
RSS). Results go to ``--out`` as ``results.json``, ``RESULTS.md`` and ``throttled.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import chart, report
from .harness import write_ids
from .scenarios import (
    Config,
    bulkdel_available,
    ideal_rate_seconds,
    ideal_window_seconds,
    launcher,
    measure,
    summarize,
)

SCENARIOS = ("throughput", "throttled", "scale")
QUICK = Config(
    ids=2_000,
    runs=1,
    sdk_sync_ids=1_000,
    rate=20.0,
    rate_seconds=1.5,
    window=(10, 1.0),
    window_count=2,
    scale_sizes=(2_000, 6_000),
    scale_runs=1,
    time_limit=60.0,
    sample_every=0.1,
)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _skipped(reason: str) -> dict[str, Any]:
    return {"skipped": reason}


def run_throughput(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """Unthrottled ids/s of every contender, medians of ``cfg.runs`` runs."""
    ids_file = write_ids(work / "throughput.txt", cfg.ids)
    sync_file = write_ids(work / "throughput_sync.txt", min(cfg.ids, cfg.sdk_sync_ids))
    contenders: list[tuple[str, Any, Path, str | None]] = [
        ("bare", launcher("bare"), ids_file, None),
        ("sdk-async", launcher("sdk-async"), ids_file, None),
        ("sdk-sync", launcher("sdk-sync"), sync_file, None),
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
    for name, launch, path, missing in contenders:
        if missing:
            results[name] = _skipped(f"bulkdel is not ready: {missing}")
            continue
        runs = []
        for i in range(cfg.runs):
            runs.append(measure(launch, path, cfg))
            _log(f"throughput {name} run {i + 1}: {runs[-1].get('ids_per_s')} ids/s")
        results[name] = summarize(runs)
        results[name]["ids"] = cfg.sdk_sync_ids if name == "sdk-sync" else cfg.ids
    return results


def run_throttled(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """Efficiency against a throttling server: a per-second rate, then a long fixed window."""
    limit, interval = cfg.window
    rate_requests = math.ceil(cfg.rate * cfg.rate_seconds)
    window_requests = limit * cfg.window_count + 1
    window_rate = limit / interval
    setups = {
        "rate": {
            "server": {"rate": cfg.rate, "windows": ()},
            "limit_req_per_s": cfg.rate,
            "requests": rate_requests,
            "bulkdel_rate": cfg.rate,
        },
        "window": {
            "server": {"rate": None, "windows": (cfg.window,)},
            "limit_req_per_s": round(window_rate, 3),
            "requests": window_requests,
            "bulkdel_rate": round(window_rate, 3),
        },
    }
    results: dict[str, Any] = {}
    for scenario, setup in setups.items():
        ids_file = write_ids(work / f"throttled_{scenario}.txt", setup["requests"] * cfg.batch_size)
        contenders = [
            (
                "bulkdel-cli --rate",
                launcher("bulkdel-cli", rate=setup["bulkdel_rate"]),
                have["cli"],
            ),
            ("bulkdel-cli adaptive", launcher("bulkdel-cli"), have["cli"]),
            ("sdk-async", launcher("sdk-async"), True),
        ]
        block: dict[str, Any] = {
            "server": {k: v for k, v in setup["server"].items() if v},
            "limit_req_per_s": setup["limit_req_per_s"],
            "limit_ids_per_s": round(setup["limit_req_per_s"] * cfg.batch_size, 1),
            "ids": setup["requests"] * cfg.batch_size,
            "contenders": {},
        }
        for name, launch, ok in contenders:
            if not ok:
                block["contenders"][name] = _skipped("bulkdel is not ready: no CLI")
                continue
            runs = []
            for i in range(cfg.runs):
                fig = measure(launch, ids_file, cfg, sample=i == 0, **setup["server"])
                if scenario == "rate":
                    ideal = ideal_rate_seconds(setup["requests"], cfg.rate)
                else:
                    ideal = ideal_window_seconds(
                        setup["requests"], limit, interval, fig.get("work_offset_s", 0.0)
                    )
                fig["ideal_s"] = round(ideal, 3)
                # scaled by the share of the job done: a run that gave up on batches is not
                # efficient however quickly it gave up
                done = fig.get("ids_deleted", 0) / block["ids"]
                fig["efficiency"] = round(done * ideal / fig["work_s"], 4) if fig["work_s"] else 0.0
                fig["of_limit"] = round(fig.get("ids_per_s", 0.0) / block["limit_ids_per_s"], 4)
                runs.append(fig)
                _log(
                    f"throttled {scenario} {name} run {i + 1}: {fig.get('ids_per_s')} ids/s, "
                    f"efficiency {fig['efficiency']}, 429 share {fig.get('throttled_share')}"
                )
            block["contenders"][name] = summarize(runs)
        results[scenario] = block
    return results


def run_scale(cfg: Config, work: Path, have: dict[str, bool]) -> dict[str, Any]:
    """bulkdel's CLI on 1M/3M/10M ids from a file: dry run and live, time and peak RSS."""
    if not have["cli"]:
        return _skipped("bulkdel is not ready: no CLI")
    results: dict[str, Any] = {}
    for size in cfg.scale_sizes:
        ids_file = write_ids(work / "scale.txt", size)
        for mode, launch, server in (
            ("dry-run", launcher("bulkdel-cli", dry_run=True), False),
            ("live", launcher("bulkdel-cli"), True),
        ):
            runs = []
            for i in range(cfg.scale_runs):
                runs.append(measure(launch, ids_file, cfg, server=server))
                _log(
                    f"scale {size} {mode} run {i + 1}: {runs[-1]['wall_s']} s, "
                    f"{runs[-1]['peak_rss_mib']} MiB"
                )
            results[f"{size}/{mode}"] = {"ids": size, "mode": mode, **summarize(runs)}
        ids_file.unlink()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected scenarios and write the results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--ids", type=int, help="ids for the throughput scenario")
    parser.add_argument("--runs", type=int, help="runs per contender (medians are reported)")
    parser.add_argument("--scale-runs", type=int, help="runs per scale point")
    parser.add_argument("--scale-sizes", type=int, nargs="+", help="ids per scale point")
    parser.add_argument("--time-limit", type=float, help="seconds per contender run")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="results dir")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else Config()
    overrides = {
        "ids": args.ids,
        "runs": args.runs,
        "scale_runs": args.scale_runs,
        "time_limit": args.time_limit,
        "scale_sizes": tuple(args.scale_sizes) if args.scale_sizes else None,
    }
    cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    args.out.mkdir(parents=True, exist_ok=True)
    have = bulkdel_available()
    _log(f"bulkdel interfaces available: {have}")
    results: dict[str, Any] = {
        "config": dataclasses.asdict(cfg),
        "quick": args.quick,
        "bulkdel_available": have,
        "machine": report.machine_info(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    runners = {"throughput": run_throughput, "throttled": run_throttled, "scale": run_scale}
    with tempfile.TemporaryDirectory(prefix="bulkdel-bench-") as scratch:
        for name in SCENARIOS:
            if name in args.only:
                _log(f"scenario {name}")
                results[name] = runners[name](cfg, Path(scratch), have)
    results["targets"] = report.targets(results)
    json_path = args.out / "results.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    chart_path = chart.draw(results.get("throttled"), args.out / "throttled.png")
    results["chart"] = chart_path.name if chart_path else None
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "RESULTS.md").write_text(report.markdown(results), encoding="utf-8")
    _log(
        f"wrote {json_path}, {args.out / 'RESULTS.md'}" + (f", {chart_path}" if chart_path else "")
    )
    return 0
