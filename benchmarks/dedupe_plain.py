"""What a plain install (no numpy) costs: ``python -m benchmarks.dedupe_plain``.

numpy is the ``large`` extra; without it the standard library's de-duplication
(``bulkdel/_engine/dedupe_plain.py``) answers the same. Measured here, each in fresh child
processes, with numpy importable and with it made unimportable (a ``sys.meta_path`` blocker,
as a plain install has it):

* *import*: the time to import the reader (``bulkdel.engine.reader``, what a run imports for
  its de-duplication), median of ``--repeat`` processes; and ``import numpy`` alone;
* *install size*: ``du`` of numpy's directories in site-packages (the package, its bundled
  libraries, its dist-info);
* *dry run*: ``bulkdel delete FILE --dry-run`` of 1M and 10M distinct ids (the benchmarks'
  ids, one a line): wall time, ids/s, the child's peak RSS (``wait4``), and its growth over
  the 1,000-id run of the same install (the de-duplication's share, about);
* *de-duplication alone*: ``Deduper.add_new`` over 1M ids (``--alone-ids``) in chunks of
  10,000, in a child.

Writes ``benchmarks/dedupe_plain.json`` and ``benchmarks/DEDUPE_PLAIN_RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import run_timed, write_ids

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: prefix of a child's script: numpy unimportable, as on a plain install
BLOCK = """
import sys
class NoNumpy:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "numpy":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoNumpy())
"""
CLI = """
import atexit, runpy, sys

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("peak-rss-kib", line.split()[1], file=sys.stderr)

atexit.register(hwm)
sys.argv[0] = "bulkdel"
runpy.run_module("bulkdel", run_name="__main__", alter_sys=True)
"""
IMPORT = """
import time
t = time.perf_counter()
import {module}
print(time.perf_counter() - t)
"""
INSTALLS = {"numpy": "", "plain": BLOCK}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def import_seconds(prefix: str, module: str, repeat: int) -> float:
    """Median seconds to import ``module`` in a fresh interpreter after ``prefix``."""
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", prefix + IMPORT.format(module=module)],
            capture_output=True,
            text=True,
            env=_env(),
            check=True,
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def numpy_size_mib() -> float | None:
    """MiB that numpy takes in site-packages (``du``), or None without numpy."""
    try:
        import numpy
    except ImportError:
        return None
    package = Path(numpy.__file__).parent
    parts = [package, *package.parent.glob("numpy.libs"), *package.parent.glob("numpy-*-info")]
    du = subprocess.run(
        ["du", "-sk", "-c", *map(str, parts)], capture_output=True, text=True, check=True
    )
    return int(du.stdout.splitlines()[-1].split()[0]) / 1024


def dry_run(prefix: str, source: Path, work: Path, count: int) -> dict[str, Any]:
    """A CLI dry run of ``source`` (``count`` ids) in a child; its figures."""
    report = Path(tempfile.mkdtemp(dir=work))
    argv = [sys.executable, "-c", prefix + CLI, "delete", str(source), "--dry-run"]
    argv += ["--report-dir", str(report), "--json"]
    result = run_timed(argv, env=_env(), timeout=300)
    summary = json.loads((report / "summary.json").read_text())
    # the process's own high-water mark: wait4's ru_maxrss also counts the parent's memory
    # at the fork (Linux keeps the old mm's peak across exec)
    kib = next(line.split()[1] for line in result.stderr.splitlines() if "peak-rss-kib" in line)
    return {
        "ids": count,
        "returncode": result.returncode,
        "wall_s": round(result.wall_s, 2),
        "ids_per_s": round(count / result.wall_s),
        "peak_rss_mib": round(int(kib) / 1024, 1),
        "unique": summary["counts"]["unique"],
        "hint": "bulkdel[large]" in result.stderr,
    }


def dedupe_alone(count: int) -> dict[str, float]:
    """ns an id of ``Deduper.add_new`` over ``count`` distinct ids, 10,000 a chunk."""
    from benchmarks.harness import make_id
    from bulkdel._engine import dedupe_numpy, dedupe_plain

    ids = [make_id(i) for i in range(count)]
    out = {}
    for name, cls in (("numpy", dedupe_numpy.Deduper), ("plain", dedupe_plain.Deduper)):
        deduper = cls()
        start = time.perf_counter()
        for i in range(0, count, 10_000):
            deduper.add_new(ids[i : i + 10_000])
        out[name] = round((time.perf_counter() - start) / count * 1e9)
        deduper.close()
    return out


def measure(sizes: list[int], repeat: int, alone: int, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "import_s": {
            name: import_seconds(prefix, "bulkdel.engine.reader", repeat)
            for name, prefix in INSTALLS.items()
        },
        "import_numpy_alone_s": import_seconds("", "numpy", repeat),
        "numpy_install_mib": numpy_size_mib(),
        "dedupe_alone_ids": alone,
        "dedupe_ns_per_id": json.loads(
            subprocess.run(
                [sys.executable, "-m", "benchmarks.dedupe_plain", "--alone", str(alone)],
                capture_output=True,
                text=True,
                env=_env(),
                check=True,
            ).stdout
        ),
        "dry_run": {},
    }
    for size in [1_000, *sizes]:
        source = write_ids(work / "ids.txt", size)
        for name, prefix in INSTALLS.items():
            run = dry_run(prefix, source, work, size)
            print(name, run, flush=True)
            results["dry_run"].setdefault(name, []).append(run)
    return results


def markdown(results: dict[str, Any]) -> str:
    imp = results["import_s"]
    lines = [
        "# A plain install against the `large` extra (numpy)",
        "",
        "`python -m benchmarks.dedupe_plain` (method: its docstring); "
        f"Python {results['machine']['python']}, {results['machine']['cpus']} cores shared "
        "with other work; 10M-id figures are one run each.",
        "",
        f"- numpy installed: {results['numpy_install_mib']:.1f} MiB in site-packages "
        "(`du` of the package, its bundled libraries and its dist-info).",
        f"- Import of the reader (`bulkdel.engine.reader`, what a run needs for its "
        f"de-duplication): {imp['numpy'] * 1000:.0f} ms with numpy, "
        f"{imp['plain'] * 1000:.0f} ms without (`import numpy` alone: "
        f"{results['import_numpy_alone_s'] * 1000:.0f} ms); medians of fresh processes.",
        f"- `Deduper.add_new` alone, {results['dedupe_alone_ids']:,} distinct ids, 10,000 a "
        f"chunk: {results['dedupe_ns_per_id']['numpy']} ns an id with numpy, "
        f"{results['dedupe_ns_per_id']['plain']} ns without.",
        "",
        "`bulkdel delete FILE --dry-run` (distinct ids; peak RSS of the whole process; "
        "*over 1k*: its growth over the 1,000-id run of the same install, over the ids):",
        "",
        "| install | ids | wall s | ids/s | peak RSS MiB | over 1k, bytes an id | hint |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, runs in results["dry_run"].items():
        base = runs[0]["peak_rss_mib"]
        for run in runs:
            growth = (run["peak_rss_mib"] - base) * (1 << 20) / run["ids"]
            lines.append(
                f"| {name} | {run['ids']:,} | {run['wall_s']} | {run['ids_per_s']:,} | "
                f"{run['peak_rss_mib']} | {growth:.1f} | {'yes' if run['hint'] else 'no'} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--alone-ids", type=int, default=1_000_000)
    parser.add_argument("--alone", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.alone:
        print(json.dumps(dedupe_alone(args.alone)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as work:
        results = measure(sizes, args.repeat, args.alone_ids, Path(work))
    (args.out / "dedupe_plain.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "DEDUPE_PLAIN_RESULTS.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
