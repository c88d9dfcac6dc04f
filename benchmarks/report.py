"""Results: the machine they came from, the issue's targets, and ``RESULTS.md``."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from . import budget_scenarios, redis_scenarios

_ROOT = Path(__file__).resolve().parent.parent


def machine_info(ref: str | None = None) -> dict[str, Any]:
    """CPU, memory, OS, Python and the versions of everything measured."""
    cpu = platform.processor() or platform.machine()
    mem_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    versions = {}
    for dist in ("bulkdel", "imagekitio", "aiohttp", "httpx", "aiolimiter", "matplotlib"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref or "HEAD"], cwd=_ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": commit or None,
        # the machine is shared: a load well above the core count means noisy figures
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        # without a ref the working tree is measured, which may hold uncommitted changes
        "git_dirty": None if ref else _dirty(),
    }


def _dirty() -> bool:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "bulkdel"], cwd=_ROOT, capture_output=True, text=True
    )
    return bool(status.stdout.strip())


def _median(block: dict[str, Any] | None, key: str) -> float | None:
    if not block or "median" not in block:
        return None
    value = block["median"].get(key)
    return float(value) if value is not None else None


def _target(name: str, value: float | None, op: str, threshold: float) -> dict[str, Any]:
    compare = {">=": float.__ge__, "<=": float.__le__, "<": float.__lt__}[op]
    met = None if value is None else compare(float(value), float(threshold))
    return {
        "target": name,
        "value": None if value is None else round(value, 4),
        "op": op,
        "threshold": threshold,
        "met": met,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured value and whether it is met (None: not run)."""
    out: list[dict[str, Any]] = []
    tp = results.get("throughput") or {}
    bulk = _median(tp.get("bulkdel-cli"), "ids_per_s")
    out.append(
        _target(
            "bulkdel-cli / sdk-async ids/s",
            _ratio(bulk, _median(tp.get("sdk-async"), "ids_per_s")),
            ">=",
            6.0,
        )
    )
    out.append(
        _target(
            "bulkdel-cli / bare ids/s",
            _ratio(bulk, _median(tp.get("bare"), "ids_per_s")),
            ">=",
            0.7,
        )
    )
    out.append(
        _target(
            "bulkdel-cli --journal / bulkdel-cli ids/s",
            _ratio(_median(tp.get("bulkdel-cli-journal"), "ids_per_s"), bulk),
            ">=",
            0.8,
        )
    )
    out += _whole_process_targets(tp, results.get("throughput_large") or {})
    out += _scale_targets(results.get("scale") or {})
    for scenario in ("rate", "window"):
        contenders = ((results.get("throttled") or {}).get(scenario) or {}).get("contenders", {})
        for name, eff, share in (
            ("bulkdel-cli --rate", 0.97, 0.01),
            ("bulkdel-cli adaptive", 0.90, 0.05),
        ):
            block = contenders.get(name)
            out.append(
                _target(f"{scenario}: {name} efficiency", _median(block, "efficiency"), ">=", eff)
            )
            out.append(
                _target(
                    f"{scenario}: {name} 429 share", _median(block, "throttled_share"), "<", share
                )
            )
    return out


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _throughput_table(tp: dict[str, Any]) -> list[str]:
    ref = _median(tp.get("bulkdel-cli"), "ids_per_s")
    bare = _median(tp.get("bare"), "ids_per_s")
    lines = [
        "| contender | ids | ids/s (work) | ids/s (process wall) | vs bulkdel-cli | vs bare | "
        "CPU µs per id | server CPU s | peak RSS MiB | answers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, block in tp.items():
        if "skipped" in block:
            lines.append(f"| {name} | - | skipped: {block['skipped']} | | | | | | | |")
            continue
        med = block["median"]
        ids_s = med.get("ids_per_s")
        statuses = block["runs"][0].get("by_status", {})
        vs_ref = f"{ids_s / ref:.2f}x" if ref and ids_s else "-"
        vs_bare = f"{ids_s / bare:.2f}x" if bare and ids_s else "-"
        lines.append(
            f"| {name} | {_fmt(block.get('ids'))} | {_fmt(ids_s)} | "
            f"{_fmt(med.get('ids_per_s_wall'))} | {vs_ref} | {vs_bare} | "
            f"{_fmt(med.get('cpu_us_per_id'), 2)} | {_fmt(med.get('server_cpu_s'), 2)} | "
            f"{_fmt(med.get('peak_rss_mib'), 1)} | {statuses} |"
        )
    return lines


def _throttled_tables(th: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for scenario, block in th.items():
        lines += [
            "",
            f"**{scenario}**: fake server `{block.get('server_label')}`, "
            f"limit {block['limit_req_per_s']} req/s "
            f"= {_fmt(block['limit_ids_per_s'])} ids/s, job {_fmt(block['ids'])} ids",
            "",
            "| contender | ids/s | of limit | efficiency vs ideal | 429 share | requests | "
            "ids deleted | job done | work s | ideal s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, result in block["contenders"].items():
            if "skipped" in result:
                lines.append(f"| {name} | skipped: {result['skipped']} | | | | | | | | |")
                continue
            m = result["median"]
            lines.append(
                f"| {name} | {_fmt(m.get('ids_per_s'))} | {_fmt(m.get('of_limit'), 3)} | "
                f"{_fmt(m.get('efficiency'), 3)} | {_fmt(m.get('throttled_share'), 4)} | "
                f"{_fmt(m.get('requests'))} | {_fmt(m.get('ids_deleted'))} | "
                f"{_fmt(m.get('done'), 3)} | "
                f"{_fmt(m.get('work_s'), 2)} | {_fmt(m.get('ideal_s'), 2)} |"
            )
    return lines


def _whole_process_targets(tp: dict[str, Any], large: dict[str, Any]) -> list[dict[str, Any]]:
    """The throughput ratios on whole-process wall time (start-up included), as a user runs
    the command: at the throughput scenario's size, and at a million ids."""

    def ratio(block: dict[str, Any], other: str) -> float | None:
        return _ratio(
            _median(block.get("bulkdel-cli"), "ids_per_s_wall"),
            _median(block.get(other), "ids_per_s_wall"),
        )

    def size(block: dict[str, Any]) -> str:
        ids = (block.get("bulkdel-cli") or {}).get("ids")
        return f" at {ids:,} ids" if isinstance(ids, int) else ""

    out = [
        _target(f"bulkdel-cli / {other} ids/s (process wall){size(tp)}", ratio(tp, other), ">=", w)
        for other, w in (("bare", 0.7), ("sdk-async", 6.0))
    ]
    out += [
        _target(
            f"bulkdel-cli / {other} ids/s (process wall){size(large)}", ratio(large, other), ">=", w
        )
        for other, w in (("bare", 0.8), ("sdk-async", 8.0))
    ]
    return out


def _scale_targets(sc: dict[str, Any]) -> list[dict[str, Any]]:
    """Peak RSS per id at 10M and 30M ids (dry run and live), and the 100M dry run's peak."""
    if "skipped" in sc:
        return []
    out = [
        _target(
            f"{size // 1_000_000}M ids {mode}: peak RSS bytes per id",
            _median(sc.get(f"{size}/{mode}"), "rss_bytes_per_id"),
            "<=",
            16.0,
        )
        for size in (10_000_000, 30_000_000)
        for mode in ("dry-run", "live")
    ]
    out.append(
        _target(
            "100M ids dry-run: peak RSS MiB",
            _median(sc.get("100000000/dry-run"), "peak_rss_mib"),
            "<",
            2048.0,
        )
    )
    return out


def _scale_table(sc: dict[str, Any]) -> list[str]:
    if "skipped" in sc:
        return [f"Skipped: {sc['skipped']}."]
    lines = [
        "| ids | mode | wall s | s per M ids | ids/s | peak RSS MiB | RSS bytes per id | "
        "marginal bytes per id | timed out |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    previous: dict[str, tuple[int, float]] = {}  # mode -> (ids, rss MiB) of the size before
    for block in sorted(sc.values(), key=lambda b: (b["mode"], b["ids"])):
        m = block["median"]
        ids, mode = block["ids"], block["mode"]
        rss = m.get("peak_rss_mib")
        per_id = rss * 1024 * 1024 / ids if rss else None
        marginal = None
        if rss and mode in previous and ids > previous[mode][0]:
            before_ids, before_rss = previous[mode]
            marginal = (rss - before_rss) * 1024 * 1024 / (ids - before_ids)
        if rss:
            previous[mode] = (ids, rss)
        timed_out = any(r.get("timed_out") for r in block["runs"])
        lines.append(
            f"| {_fmt(ids)} | {mode} | {_fmt(m.get('wall_s'), 2)} | "
            f"{_fmt(m['wall_s'] / ids * 1e6, 2)} | {_fmt(m.get('ids_per_s'))} | "
            f"{_fmt(rss, 1)} | {_fmt(per_id, 1)} | {_fmt(marginal, 1)} | "
            f"{'**yes**' if timed_out else 'no'} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    """``RESULTS.md``: the machine, the method, the tables, the targets."""
    machine = results["machine"]
    cfg = results["config"]
    lines = [
        "# bulkdel benchmarks",
        "",
        f"Generated by `python -m benchmarks{' --quick' if results.get('quick') else ''}` on "
        f"{results['started']}; bulkdel from the {results.get('bulkdel_source')} "
        f"(git {machine.get('git_commit')}"
        f"{', with uncommitted changes' if machine.get('git_dirty') else ''}).",
        "",
        f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"{machine['os']}; Python {machine['python']}; load average at start "
        f"{machine.get('load_avg_1_5_15', 'not recorded')}, at end "
        f"{results.get('load_avg_end', 'not recorded')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
        f"- medians of {cfg['runs']} run(s) per contender (scale: {cfg['scale_runs']}); "
        f"batch {cfg['batch_size']}, concurrency {cfg['concurrency']}",
        f"- bulkdel interfaces found: {results['bulkdel_available']}",
        "",
        "Method: each contender is its own process against a fresh fake ImageKit server process "
        "(`python -m bulkdel.testing`) on 127.0.0.1, where every well-formed id exists once; "
        "ids are deterministic distinct 24-hex strings in a file. *ids/s (work)* is the "
        "server's count of ids deleted over the contender's own timed section (from before "
        "reading the id file to the last answer; bulkdel's `elapsed_s`), so interpreter "
        "start-up and imports are left out; *process wall* includes them (bulkdel's modules "
        "compiled to bytecode first, as an installed package's are). Peak RSS is each "
        "contender process's own (`os.wait4`).",
        "",
    ]
    if "throughput" in results:
        lines += ["## Unthrottled throughput", "", *_throughput_table(results["throughput"]), ""]
        lines.append(
            "The SDK contenders use `password=''` so the SDK sends `Basic base64(key:)` like the "
            "API documents (its default password `do_not_set` is refused by the fake server). "
            f"The sync SDK runs on {_fmt(cfg['sdk_sync_ids'])} ids; its ids/s is compared."
        )
        lines.append("")
    if "throughput_large" in results:
        lines += [
            f"## Unthrottled throughput at {_fmt(cfg.get('large_ids'))} ids",
            "",
            *_throughput_table(results["throughput_large"]),
            "",
        ]
    if "throughput" in results or "throughput_large" in results:
        lines += [
            "*CPU µs per id*: the contender process's CPU time (user and system) over the ids "
            "deleted, start-up included; *server CPU s*: the fake server's. The client and the "
            "fake server share the machine's cores: when both are near a core each, a "
            "contender's ids/s follows its CPU per id.",
            "",
        ]
    if "throttled" in results:
        lines += [
            "## Throttled efficiency",
            "",
            "*of limit*: ids/s over the limit's ids/s. *efficiency vs ideal*: the ideal time "
            "for the job (per-second limit: the job at exactly R requests/s, no credit for the "
            "bucket's initial burst, so a client that bursts can score a little over 1; fixed "
            "window: each window's quota spent at once, counted from when the contender's "
            "timed section started, so a late start within the first window costs), for the "
            "ids the run actually deleted, over the time taken; *job done* is the share of the "
            "job's ids deleted (a client that gives up on batches gains nothing by it). "
            "The windowed job is whole windows plus one batch, so it must wait out the last reset. "
            "The SDK retries a 429 twice with its own backoff (it ignores "
            "`X-RateLimit-Reset`) and then raises; those batches are not deleted.",
            *_throttled_tables(results["throttled"]),
            "",
        ]
        if results.get("chart"):
            lines += [f"![throughput over time]({results['chart']})", ""]
    if "scale" in results:
        lines += [
            "## Scale and memory (bulkdel CLI, ids streamed from a file)",
            "",
            *_scale_table(results["scale"]),
            "",
            "*RSS bytes per id*: the whole process's peak RSS (interpreter, aiohttp and numpy "
            "included, about 75 MiB) over the ids; *marginal bytes per id*: the growth of peak "
            "RSS from the previous size over the ids added. De-duplication keeps a fixed "
            "in-memory table and a Bloom filter (2.5 to 5 bytes an id, doubling) in memory and "
            "the ids themselves in sorted runs on disk beside the report. A run that hit the "
            "time limit was interrupted with SIGINT; its figures cover what it did until then.",
            "",
        ]
    if "budget" in results:
        lines += budget_scenarios.markdown(results["budget"])
    if "redis" in results:
        lines += redis_scenarios.markdown(results["redis"])
    lines += ["## Targets", "", "| target | value | wanted | met |", "|---|---:|---|---|"]
    for t in results["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(
            f"| {t['target']} | {_fmt(t['value'], 3)} | {t['op']} {t['threshold']} | {met} |"
        )
    return "\n".join(lines) + "\n"
